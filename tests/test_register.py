"""register(): one call at startup; each case runs in a fresh interpreter (OTel globals)."""

from __future__ import annotations

from otel_aitracer._destinations._store import SQLiteStore

from .helpers import run_python

# One real OpenAI call against a fake on loopback, on one line so it can sit in any indented snippet.
CALL = (
    "import openai; from otel_aitracer.demo.fake_openai import FakeOpenAIServer; fake = FakeOpenAIServer().start(); "
    "openai.OpenAI(api_key='sk-test', base_url=fake.base_url, max_retries=0)"
    ".chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'hi'}])"
)


def test_register_twice_returns_one_pipeline_and_one_record_per_call(tmp_path):
    store = tmp_path / "r.db"
    result = run_python(
        f"""
        import otel_aitracer
        first = otel_aitracer.register(project="app", store={str(store)!r})
        second = otel_aitracer.register(project="other")
        assert first is second, "not idempotent"
        {CALL}
        assert first.flush(5)
        print(first.instrumented)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "openai" in result.stdout
    [record] = SQLiteStore(store).query()
    assert record["project"] == "app"


def test_register_reuses_existing_global_provider(tmp_path):
    store = tmp_path / "r.db"
    result = run_python(
        f"""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import otel_aitracer
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        pipeline = otel_aitracer.register(store={str(store)!r})
        assert pipeline.tracer_provider is provider is trace.get_tracer_provider()
        {CALL}
        pipeline.flush(5)
        print([s.name for s in exporter.get_finished_spans()])
        """
    )
    assert result.returncode == 0, result.stderr
    assert "chat gpt-4o-mini" in result.stdout  # the app's own exporter still sees the span
    assert SQLiteStore(store).count() == 1


def test_register_with_explicit_provider_leaves_global_alone(tmp_path):
    store = tmp_path / "r.db"
    result = run_python(
        f"""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        import otel_aitracer
        mine = TracerProvider()
        pipeline = otel_aitracer.register(tracer_provider=mine, store={str(store)!r})
        assert pipeline.tracer_provider is mine
        assert not isinstance(trace.get_tracer_provider(), TracerProvider)
        {CALL}
        pipeline.flush(5)
        """
    )
    assert result.returncode == 0, result.stderr
    assert SQLiteStore(store).count() == 1


def test_register_reads_environment(tmp_path):
    store = tmp_path / "env.db"
    result = run_python(
        f"""
        import otel_aitracer
        pipeline = otel_aitracer.register(capture_content=False)
        {CALL}
        pipeline.flush(5)
        """,
        env={"AITRACER_PROJECT": "from-env", "AITRACER_STORE": str(store)},
    )
    assert result.returncode == 0, result.stderr
    [record] = SQLiteStore(store).query()
    assert record["project"] == "from-env"
    assert record["input"] == {"redacted": True}


def test_shutdown_uninstruments_and_allows_register_again(tmp_path):
    store = tmp_path / "r.db"
    result = run_python(
        f"""
        import openai, otel_aitracer
        original = openai.resources.chat.completions.Completions.create
        first = otel_aitracer.register(store={str(store)!r})
        assert openai.resources.chat.completions.Completions.create is not original
        first.shutdown()
        assert openai.resources.chat.completions.Completions.create is original
        second = otel_aitracer.register(store={str(store)!r}, instrument=["openai"])
        assert second is not first
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_register_rejects_unknown_instrumentor():
    result = run_python(
        """
        import otel_aitracer
        from otel_aitracer.exceptions import ConfigurationError
        try:
            otel_aitracer.register(instrument=["cohere"], store=":memory:")
        except ConfigurationError as exc:
            print(exc)
        """
    )
    assert "unknown instrumentors ['cohere']" in result.stdout, result.stderr


def test_exporter_entry_point_via_otel_autoconfiguration(tmp_path):
    store = tmp_path / "auto.db"
    result = run_python(
        """
        from importlib.metadata import entry_points
        [ep] = entry_points(group="opentelemetry_traces_exporter", name="aitracer")
        exporter = ep.load()()
        print(type(exporter).__name__, exporter.settings.store)
        """,
        env={"AITRACER_STORE": str(store)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["AITracerSpanExporter", str(store)]


def test_instrumentor_entry_point():
    result = run_python(
        """
        from importlib.metadata import entry_points
        [ep] = entry_points(group="opentelemetry_instrumentor", name="openai")
        print(ep.load().__name__)
        """
    )
    assert result.stdout.strip() == "OpenAIInstrumentor", result.stderr


def test_register_imports_no_sdk_and_each_is_traced_once_the_app_imports_it(tmp_path, fake_openai):
    """Issue 16, point 4: start-up pays for no SDK the app has installed but has not imported yet."""
    from otel_aitracer.demo.fake_anthropic import FakeAnthropicServer
    from otel_aitracer.demo.fake_gemini import FakeGeminiServer

    db = str(tmp_path / "r.db")
    with FakeAnthropicServer() as a, FakeGeminiServer() as g:
        result = run_python(
            f"""
            import sys
            import otel_aitracer
            pipeline = otel_aitracer.register(store={db!r})
            # No SDK or framework. genai-prices (and pydantic) are ours and are loaded here on purpose: the worker thread
            # must import nothing (test_the_worker_thread_imports_nothing).
            heavy = ("openai", "anthropic", "google.genai", "google.generativeai", "agents", "mcp", "pydantic_ai", "langchain_core", "langgraph")
            print("loaded", sorted(m for m in heavy if m in sys.modules), "instrumented", pipeline.instrumented)
            import anthropic, openai
            from google import genai
            openai.OpenAI(api_key="k", base_url={fake_openai.base_url!r}, max_retries=0).chat.completions.create(
                model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])
            anthropic.Anthropic(api_key="k", base_url={a.base_url!r}, max_retries=0).messages.create(
                model="claude-haiku-4-5", max_tokens=20, messages=[{{"role": "user", "content": "hi"}}])
            gemini = genai.Client(api_key="k", http_options={{"base_url": {g.base_url!r}}})  # closes its connection when collected
            gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
            pipeline.shutdown()
            from otel_aitracer._destinations._store import SQLiteStore
            print("records", sorted(r["provider"] for r in SQLiteStore({db!r}).query()))
            """
        )
    assert result.returncode == 0, result.stderr
    loaded, records = result.stdout.strip().splitlines()[-2:]
    assert loaded == "loaded [] instrumented ['openai', 'anthropic', 'google_genai', 'mcp']"
    assert records == "records ['anthropic', 'gemini', 'openai']"


_WORKER_IMPORTS = """
import builtins, sys, threading
imported_elsewhere = set()
real_import = builtins.__import__

def watching(name, globals=None, locals=None, fromlist=(), level=0):
    before = set(sys.modules)
    module = real_import(name, globals, locals, fromlist, level)
    if threading.current_thread() is not threading.main_thread():
        imported_elsewhere.update(set(sys.modules) - before)
    return module

builtins.__import__ = watching
import openai, otel_aitracer
pipeline = otel_aitracer.register(store={store!r})
openai.OpenAI(base_url={base_url!r}, api_key="k", max_retries=0).chat.completions.create(
    model="gpt-4o-mini", messages=[{{"role": "user", "content": "Mail jane@example.com the report"}}])
pipeline.shutdown()
print(sorted(imported_elsewhere))
"""


def test_the_worker_thread_imports_nothing(tmp_path, fake_openai):
    """An import off the app's thread leaves a half-made module in sys.modules for a moment, and SDKs peek there
    (openai 2.x read a half-imported httpx2, pulled in by genai-prices on our worker, and failed the app's call):
    what the worker needs (prices, the PII prefilter) is imported when the pipeline is made."""
    result = run_python(_WORKER_IMPORTS.format(store=str(tmp_path / "r.db"), base_url=fake_openai.base_url))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
