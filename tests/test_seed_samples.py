"""Every Python sample of the AITracer SDK documents (the seeds), run on otel-aitracer.

Each sample is kept as the documents print it, with one change: ``from aitracer``
becomes ``from otel_aitracer``. Two things the documents leave to the reader are
filled in mechanically by :func:`_runnable`: the elisions (``create(...)``,
``messages=[...]``, ``{...}``), and the one literal ``https://api.aitracer.co``,
which points at a fake AITracer API on loopback (as ``AITRACER_BASE_URL`` does for
the others). The real ``openai``, ``anthropic`` and ``google-generativeai`` SDKs
call fake providers on 127.0.0.1 through their own environment variables.
"""

from __future__ import annotations

import textwrap
import warnings

import pytest

from otel_aitracer import AITracer
from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer.demo.fake_anthropic import FakeAnthropicServer
from otel_aitracer.demo.fake_gemini import FakeGeminiServer

from .fake_aitracer_api import FakeAITracerAPI

HELLO = '[{"role": "user", "content": "Hello"}]'
_ELISIONS = {
    "create(...)": f'create(model="gpt-4", messages={HELLO})',
    "messages=[...]": f"messages={HELLO}",
    "tracer.log({...})": 'tracer.log({"model": "gpt-4", "provider": "openai"})',
    '"input_data": {...}': '"input_data": {"messages": []}',
    '"output_data": {...}': '"output_data": {"content": "ok"}',
}


def _runnable(sample: str, api_url: str) -> str:
    code = textwrap.dedent(sample).replace("from aitracer", "from otel_aitracer").replace("https://api.aitracer.co", api_url)
    for elided, filled in _ELISIONS.items():
        code = code.replace(elided, filled)
    return code


@pytest.fixture(scope="module")
def providers():
    with FakeAnthropicServer() as anthropic_api, FakeGeminiServer() as gemini_api:
        yield anthropic_api, gemini_api


@pytest.fixture
def api():
    with FakeAITracerAPI() as fake:
        yield fake


@pytest.fixture
def run_sample(api, providers, fake_openai, monkeypatch, tmp_path):
    """Run a sample as a module would; flush and shut down every tracer it made; return its namespace."""
    anthropic_api, gemini_api = providers
    for name, value in {
        "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake_openai.base_url, "ANTHROPIC_API_KEY": "sk-ant-test",
        "ANTHROPIC_BASE_URL": anthropic_api.base_url, "AITRACER_BASE_URL": api.base_url, "AITRACER_STORE": str(tmp_path / "r.db"),
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy Gemini SDK announces its end of support on import
        import google.generativeai as legacy
    legacy.configure(api_key="gm-test", transport="rest", client_options={"api_endpoint": gemini_api.base_url})
    namespaces = []

    def run(*samples: str) -> dict:
        namespace: dict = {"__name__": "sample"}
        namespaces.append(namespace)
        for sample in samples:
            exec(compile(_runnable(sample, api.base_url), "<seed sample>", "exec"), namespace)  # noqa: S102
        for value in list(namespace.values()):
            if isinstance(value, AITracer):
                assert value.flush(10)
        return namespace

    yield run
    for namespace in namespaces:
        for value in namespace.values():
            if isinstance(value, AITracer):
                value.shutdown()


def logs(api) -> list[dict]:
    return [record for method, path, _, body in api.requests if path == "/api/v1/logs/batch/" for record in body["logs"]]


# ---- 000: the SDK reference --------------------------------------------------------------------------
INIT = """
    from aitracer import AITracer
    tracer = AITracer(
        api_key="at-xxxx", # Required (or env var AITRACER_API_KEY)
        project="my-project", # Project name
        enabled=True, # Enable/disable logging
        sync=False, # Synchronous mode
        batch_size=10, # Batch size
        flush_interval=5.0, # Flush interval (seconds)
        pii_detection=False, # PII detection
        pii_action="mask", # Action on PII detection
        base_url="https://api.aitracer.co" # API endpoint
    )
"""


def test_wrap_openai(run_sample, api, fake_openai):
    run_sample(INIT, """
        from openai import OpenAI
        client = tracer.wrap_openai(OpenAI())
        # Use as normal - logs are recorded automatically
        response = client.chat.completions.create(
            model="gpt-4",
            messages=[{"role": "user", "content": "Hello"}]
        )
    """)  # fmt: skip
    [record] = logs(api)
    assert (record["project"], record["provider"], record["operation"]) == ("my-project", "openai", "chat")
    assert record["input"]["messages"] == [{"role": "user", "content": "Hello"}] and api.requests[0][2] == "Bearer at-xxxx"


@pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-20250514' is deprecated:DeprecationWarning")  # the seed's model
def test_wrap_anthropic(run_sample, api):
    run_sample(INIT, """
        from anthropic import Anthropic
        client = tracer.wrap_anthropic(Anthropic())
        response = client.messages.create(
            model="claude-sonnet-4-20250514",
            max_tokens=1024,
            messages=[{"role": "user", "content": "Hello"}]
        )
    """)  # fmt: skip
    [record] = logs(api)
    assert (record["provider"], record["model"].startswith("claude-sonnet-4"), record["output_tokens"] > 0) == ("anthropic", True, True)


def test_wrap_gemini(run_sample, api):
    namespace = run_sample(INIT, """
        import google.generativeai as genai
        model = tracer.wrap_gemini(genai.GenerativeModel("gemini-pro"))
        response = model.generate_content("Hello")
    """)  # fmt: skip
    [record] = logs(api)
    assert (record["provider"], record["model"]) == ("gemini", "gemini-pro") and namespace["response"].text


def test_manual_logging(run_sample, api):
    run_sample(INIT, """
        tracer.log({
            "model": "gpt-4",
            "provider": "openai",
            "input_data": {
                "messages": [{"role": "user", "content": "Hello"}]
            },
            "output_data": {
                "content": "Hi there!"
            },
            "input_tokens": 10,
            "output_tokens": 5,
            "latency_ms": 450,
            "status": "success",
            "metadata": {
                "user_id": "user-123",
                "feature": "chat"
            }
        })
    """)  # fmt: skip
    [record] = logs(api)
    assert record["output"] == {"content": "Hi there!"} and (record["input_tokens"], record["output_tokens"], record["latency_ms"]) == (10, 5, 450)
    assert record["metadata"] == {"user_id": "user-123", "feature": "chat"} and record["app_user_id"] == "user-123" and record["cost"] > 0


def test_session_and_feedback(run_sample, api):
    run_sample(INIT, """
        from openai import OpenAI
        client = tracer.wrap_openai(OpenAI())
        with tracer.session(
            session_id="session-abc123",
            user_id="user-456",
            metadata={"channel": "web"}
        ) as session:
            # All requests within the session are automatically grouped
            response1 = client.chat.completions.create(...)
            response2 = client.chat.completions.create(...)
            # Record feedback
            session.thumbs_up() # Upvote the last response
            session.thumbs_down() # Downvote the last response
            session.feedback("Great response!") # Text feedback
    """)  # fmt: skip
    first, second = logs(api)
    assert {(r["session_id"], r["app_user_id"]) for r in (first, second)} == {("session-abc123", "user-456")}
    feedback = [body for method, path, _, body in api.requests if path == "/api/v1/sessions/session-abc123/feedback/"]
    assert [(f["feedback_type"], f["score"], f["comment"], f["log_id"]) for f in feedback] == [
        ("thumbs_up", 1, None, second["span_id"]), ("thumbs_down", -1, None, second["span_id"]), ("text", None, "Great response!", second["span_id"])
    ]  # fmt: skip
    assert api.paths()[0] == ("POST", "/api/v1/sessions/") and api.paths()[-1] == ("PATCH", "/api/v1/sessions/session-abc123/end/")


def test_app_user_from_session_metadata_and_set_metadata(run_sample, api, fake_openai):
    run_sample(INIT, """
        from openai import OpenAI
        client = tracer.wrap_openai(OpenAI())
        # Recommended: Specify user_id in session
        with tracer.session(
            session_id="session-abc123",
            user_id="user-456", # Your app's user ID
        ) as session:
            # All requests in this session are linked to user-456
            response = client.chat.completions.create(...)
        # Specify user_id in metadata
        response = client.chat.completions.create(
            model="gpt-4",
            messages=[...],
            extra_body={
                "aitracer_metadata": {
                    "user_id": "user-456"
                }
            }
        )
        # Or set globally with set_metadata
        tracer.set_metadata({"user_id": "user-456"})
        response = client.chat.completions.create(...)
    """)  # fmt: skip
    assert [r["app_user_id"] for r in logs(api)] == ["user-456"] * 3
    assert all("aitracer_metadata" not in request["body"] for request in fake_openai.requests[-3:])


def test_trace_with_metadata_and_tags(run_sample, api):
    namespace = run_sample(INIT, """
        from openai import OpenAI
        client = tracer.wrap_openai(OpenAI())
        with tracer.trace("request-123") as trace:
            # Multiple API calls belong to the same trace
            response1 = client.chat.completions.create(...)
            response2 = client.chat.completions.create(...)
            # Add metadata
            trace.set_metadata({
                "user_id": "user-456",
                "feature": "summarization"
            })
            # Add tags
            trace.add_tag("production")
            trace.add_tag("high-priority")
    """)  # fmt: skip
    records = logs(api)
    # metadata and tags reach the calls made after them (here none: see test_facade for that)
    assert len(records) == 2 and {r["trace_id"] for r in records} == {namespace["trace"].trace_id}


def test_flush_in_a_serverless_handler(run_sample, api):
    namespace = run_sample(INIT, """
        from openai import OpenAI
        client = tracer.wrap_openai(OpenAI())
        # Flush manually
        tracer.flush()
        # Recommended to call before Lambda / Cloud Functions exit
        def handler(event, context):
            try:
                response = client.chat.completions.create(...)
                return response
            finally:
                tracer.flush() # Always flush
    """)  # fmt: skip
    namespace["handler"]({}, None)
    assert len(logs(api)) == 1  # on the API before the handler returned


def test_error_handling(run_sample, api):
    namespace = run_sample(INIT, """
        from aitracer.exceptions import AITracerError, APIError, RateLimitError
        outcome = "logged"
        try:
            tracer.log({...})
        except RateLimitError:
            # Rate limit reached
            pass
        except APIError as e:
            # API communication error
            print(f"API Error: {e}")
        except AITracerError:
            # Other errors
            outcome = "error"
    """)  # fmt: skip
    assert namespace["outcome"] == "logged" and len(logs(api)) == 1


# ---- 002: projects -----------------------------------------------------------------------------------
def test_project_in_constructor(run_sample, api):
    run_sample("""
        from aitracer import AITracer
        from openai import OpenAI
        # Specify project in constructor
        tracer = AITracer(
            api_key="at-xxxx",
            project="my-chatbot-production"
        )
        # All subsequent logs will be recorded to this project
        client = tracer.wrap_openai(OpenAI())
    """, """
        response = client.chat.completions.create(...)  # not in the document
    """)  # fmt: skip
    assert [r["project"] for r in logs(api)] == ["my-chatbot-production"]


def test_project_and_key_from_environment_variables(run_sample, api, monkeypatch):
    monkeypatch.setenv("AITRACER_API_KEY", "at-from-env")
    monkeypatch.setenv("AITRACER_PROJECT", "my-chatbot-staging")
    namespace = run_sample("""
        from aitracer import AITracer
        # Automatically reads from environment variables (parameters can be omitted)
        tracer = AITracer()
        # Or explicitly get from environment variables
        import os
        tracer2 = AITracer(
            api_key=os.getenv("AITRACER_API_KEY"),
            project=os.getenv("AITRACER_PROJECT")
        )
    """, """
        for t in (tracer, tracer2):  # not in the document: one call each, to see where they go
            t.log({"model": "gpt-4", "provider": "openai"})
    """)  # fmt: skip
    assert namespace["tracer"].project_name == namespace["tracer2"].project_name == "my-chatbot-staging"
    assert [r["project"] for r in logs(api)] == ["my-chatbot-staging"] * 2 and {a for _, _, a, _ in api.requests} == {"Bearer at-from-env"}


def test_project_per_log(run_sample, api):
    run_sample(INIT, """
        # For manual logs, you can specify project per request
        tracer.log({
            "model": "gpt-4",
            "provider": "openai",
            "project": "special-feature",  # This log goes to a different project
            "input_data": {...},
            "output_data": {...}
        })
    """)  # fmt: skip
    assert [r["project"] for r in logs(api)] == ["special-feature"]


def test_multiple_tracer_instances(run_sample, tmp_path):
    run_sample("""
        from aitracer import AITracer
        from openai import OpenAI
        # Create a Tracer for each project
        tracer_chat = AITracer(project="chatbot")
        tracer_search = AITracer(project="search-feature")
        tracer_summary = AITracer(project="summarization")
        # Use different clients for each feature
        chat_client = tracer_chat.wrap_openai(OpenAI())
        search_client = tracer_search.wrap_openai(OpenAI())
        summary_client = tracer_summary.wrap_openai(OpenAI())
    """, """
        for client in (summary_client, chat_client, search_client):  # not in the document
            client.chat.completions.create(...)
    """)  # fmt: skip
    stored = SQLiteStore(tmp_path / "r.db").query(newest_first=False)  # no api_key: the local store
    assert [r["project"] for r in stored] == ["summarization", "chatbot", "search-feature"]


def test_project_context_manager_reverts(run_sample, tmp_path):
    run_sample("""
        from aitracer import AITracer
        from openai import OpenAI
        # Default project
        tracer = AITracer(project="main-app")
        client = tracer.wrap_openai(OpenAI())
        # Normal request (recorded to main-app)
        response = client.chat.completions.create(...)
        # Temporarily change project
        with tracer.project("experimental-feature"):
            # Logs in this block are recorded to experimental-feature
            response = client.chat.completions.create(...)
        # Outside the block, reverts to original project
        response = client.chat.completions.create(...)  # Recorded to main-app
    """)  # fmt: skip
    stored = SQLiteStore(tmp_path / "r.db").query(newest_first=False)
    assert [r["project"] for r in stored] == ["main-app", "experimental-feature", "main-app"]


def test_project_with_metadata(run_sample, api, fake_openai):
    run_sample("""
        from aitracer import AITracer
        from openai import OpenAI
        # Project: Broad categorization by app + environment
        tracer = AITracer(project="chatbot-production")
        client = tracer.wrap_openai(OpenAI())
        # Metadata: Attach detailed attributes
        response = client.chat.completions.create(
            model="gpt-4",
            messages=[...],
            extra_body={
                "aitracer_metadata": {
                    "user_id": "user-123",
                    "feature": "customer-support",
                    "version": "2.1.0"
                }
            }
        )
    """)  # fmt: skip
    assert "aitracer_metadata" not in fake_openai.requests[-1]["body"]
