"""AITracer (the seed SDK's surface): construction, wrapping, metadata, log(), projects."""

from __future__ import annotations

import asyncio

import openai
import pytest

from otel_aitracer import AITracer
from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer.exceptions import ConfigurationError, ValidationError

USER = [{"role": "user", "content": "hi, I am jane@example.com"}]


@pytest.fixture
def tracer(tmp_path):
    t = AITracer(project="facade", sync=True, store=str(tmp_path / "r.db"))
    yield t
    t.shutdown()


def records(tmp_path):
    return SQLiteStore(tmp_path / "r.db").query(newest_first=False)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"batch_size": 0}, "batch_size"), ({"flush_interval": -1}, "flush_interval"), ({"enabled": "yes"}, "enabled"), ({"pii_action": "shred"}, "pii_action"), ({"base_url": "ftp://x"}, "base_url")],
)
def test_bad_arguments_raise_at_construction(kwargs, field, tmp_path):
    with pytest.raises(ConfigurationError, match=field):
        AITracer(store=str(tmp_path / "r.db"), **kwargs)


def test_wrap_openai_traces_that_instance_only_and_strips_metadata(tracer, fake_openai, tmp_path):
    wrapped = tracer.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
    assert tracer.wrap_openai(wrapped) is wrapped  # twice is harmless
    other = openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
    tracer.set_metadata({"release": "1.2"})
    wrapped.chat.completions.create(model="gpt-4o-mini", messages=USER, extra_body={"aitracer_metadata": {"feature": "faq"}})
    other.chat.completions.create(model="gpt-4o-mini", messages=USER)
    sent = fake_openai.requests[-2]["body"]
    assert "aitracer_metadata" not in sent  # never reaches the provider
    [record] = records(tmp_path)
    assert record["project"] == "facade" and record["metadata"] == {"release": "1.2", "feature": "faq"}
    assert tracer.project_name == "facade"
    assert record["input"]["messages"][0]["content"] == "hi, I am [EMAIL]"  # PII on by default here


def test_async_client_and_streams(tracer, fake_openai, tmp_path):
    client = tracer.wrap_openai(openai.AsyncOpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))

    async def main():
        await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        async for _ in await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True):
            pass

    asyncio.run(main())
    assert [r["operation"] for r in records(tmp_path)] == ["chat", "chat"]


def test_log_goes_through_the_same_path(tracer, tmp_path):
    tracer.log({"model": "gpt-4o-mini", "provider": "openai", "input_data": {"q": "mail bob@example.com"}, "output_data": {"a": "ok"},
                "input_tokens": 12, "output_tokens": 3, "latency_ms": 450, "metadata": {"k": "v"}})
    tracer.log({"model": "gpt-4o-mini", "provider": "openai", "status": "error", "error_message": "timeout for bob@example.com", "project": "other"})
    ok, failed = records(tmp_path)
    assert ok["input"] == {"q": "mail [EMAIL]"} and ok["output"] == {"a": "ok"} and ok["latency_ms"] == 450
    assert (ok["input_tokens"], ok["output_tokens"], ok["metadata"]) == (12, 3, {"k": "v"}) and ok["cost"] > 0
    assert failed["status"] == "error" and failed["error_message"] == "timeout for [EMAIL]" and failed["project"] == "other"


@pytest.mark.parametrize(
    ("data", "field"),
    [({"provider": "openai"}, "model"), ({"model": "m"}, "provider"), ({"model": "m", "provider": "p", "input_tokens": -1}, "input_tokens"),
     ({"model": "m", "provider": "p", "status": "meh"}, "status"), ({"model": "m", "provider": "p", "metadata": {str(i): i for i in range(11)}}, "metadata"),
     ({"model": "m", "provider": "p", "colour": "red"}, "colour"), ({"model": "m", "provider": "p", "trace_id": "xyz"}, "trace_id"),
     ({"model": "m", "provider": "p", "error_message": 3}, "error_message"), ("gpt-4o", "data")],
)
def test_log_validation_names_the_field(tracer, data, field, tmp_path):
    with pytest.raises(ValidationError) as info:
        tracer.log(data)
    assert info.value.field == field
    assert records(tmp_path) == []


def test_disabled_records_nothing(fake_openai, tmp_path):
    tracer = AITracer(enabled=False, sync=True, store=str(tmp_path / "r.db"))
    client = openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
    assert tracer.wrap_openai(client) is client and not hasattr(client, "_aitracer_wrapped")
    tracer.log({"model": "m", "provider": "openai"})
    client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert records(tmp_path) == []
    tracer.shutdown()


def test_wrap_anthropic_and_gemini_instances(tracer, tmp_path, tracer_provider, span_exporter):
    import anthropic
    from google import genai

    from otel_aitracer.demo.fake_anthropic import FakeAnthropicServer
    from otel_aitracer.demo.fake_gemini import FakeGeminiServer

    with FakeAnthropicServer() as a, FakeGeminiServer() as g:
        # the client's own tracing is on and has a provider: still one span, one record per call
        claude = tracer.wrap_anthropic(anthropic.Anthropic(api_key="k", base_url=a.base_url, max_retries=0, open_telemetry={"tracer_provider": tracer_provider}))
        claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=USER)
        with claude.messages.stream(model="claude-haiku-4-5", max_tokens=20, messages=USER) as stream:
            stream.until_done()
        gemini = tracer.wrap_gemini(genai.Client(api_key="k", http_options={"base_url": g.base_url}))
        gemini.models.generate_content(model="gemini-2.5-flash", contents="hello")
        for _ in gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="hello"):
            pass
    assert sorted(r["provider"] for r in records(tmp_path)) == ["anthropic", "anthropic", "gemini", "gemini"]
    assert span_exporter.get_finished_spans() == ()  # the SDK's own spans stayed off for the wrapped client
    with pytest.raises(ConfigurationError, match="wrap_gemini"):
        tracer.wrap_gemini(object())


def test_project_trace_session_and_user_from_metadata(tracer, fake_openai, tmp_path):
    client = tracer.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
    with tracer.project("billing"):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        tracer.log({"model": "gpt-4o-mini", "provider": "openai"})
    with tracer.session("s-1", user_id="u-1"), tracer.trace("req-9") as t:
        t.add_tag("beta")
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    client.chat.completions.create(model="gpt-4o-mini", messages=USER, extra_body={"aitracer_metadata": {"user_id": "u-2"}})
    billing, logged, in_session, by_metadata = records(tmp_path)
    assert (billing["project"], logged["project"]) == ("billing", "billing")
    assert (in_session["session_id"], in_session["app_user_id"], in_session["tags"], in_session["project"]) == ("s-1", "u-1", ["beta"], "facade")
    assert by_metadata["app_user_id"] == "u-2" and by_metadata["project"] == "facade"


def test_log_takes_the_sdk_keywords_cache_tokens_and_ids(tracer, tmp_path):
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    tracer.log(model="claude-haiku-4-5", provider="anthropic", input_data={"q": "hi"}, output_data={"a": "yo"}, input_tokens=10,
               cache_read_input_tokens=90, output_tokens=5, error_type="Overloaded", status="error", trace_id=trace_id, parent_span_id=parent)
    [record] = records(tmp_path)
    # the SDK counts input tokens without the cached ones; records count them all, as the GenAI conventions do
    assert (record["input_tokens"], record["cache_read_input_tokens"], record["output_tokens"]) == (100, 90, 5)
    assert (record["trace_id"], record["parent_span_id"], record["provider"]) == (trace_id, parent, "anthropic")
    assert record["status"] == "error" and record["error_message"] == "Overloaded" and record["cost"] > 0


def test_several_tracers_record_to_their_own_projects(fake_openai, tmp_path):
    chat, search = (AITracer(project=name, sync=True, store=str(tmp_path / "r.db")) for name in ("chatbot", "search-feature"))
    chat_client = chat.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
    search_client = search.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
    with chat.project("experimental"):  # one tracer's project block leaves the other tracer alone
        chat_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        search_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    chat_client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert [r["project"] for r in records(tmp_path)] == ["experimental", "search-feature", "chatbot"]
    chat.shutdown(), search.shutdown()


def test_project_and_key_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AITRACER_PROJECT", "from-env")
    monkeypatch.setenv("AITRACER_STORE", str(tmp_path / "r.db"))
    tracer = AITracer(sync=True)
    tracer.log({"model": "gpt-4o-mini", "provider": "openai"})
    assert tracer.project_name == "from-env" and records(tmp_path)[0]["project"] == "from-env"
    tracer.shutdown()


def test_step_name_from_metadata_names_the_step_of_a_run(tracer, fake_openai, tmp_path):
    client = tracer.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
    with tracer.run("triage") as run:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER, extra_body={"aitracer_metadata": {"step_name": "classify-intent"}})
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    first, second = records(tmp_path)
    assert (first["step_index"], first["name"], second["step_index"], second["name"]) == (0, "classify-intent", 1, "step_2")
    assert first["trace_id"] == second["trace_id"] == run.run_id and "step_name" not in first["metadata"]
    assert "aitracer_metadata" not in fake_openai.requests[-2]["body"]


def test_trace_gives_its_calls_one_trace_id(tracer, fake_openai, tmp_path):
    client = tracer.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
    with tracer.trace("request-123") as t:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        tracer.log({"model": "gpt-4o-mini", "provider": "openai"})
        t.set_metadata({"feature": "summarization"})
        t.add_tag("production")
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    first, logged, last = records(tmp_path)
    assert first["trace_id"] == logged["trace_id"] == last["trace_id"] == t.trace_id
    assert "feature" not in first["metadata"] and "tags" not in first  # they reach the calls made after them
    assert last["metadata"]["feature"] == "summarization" and last["tags"] == ["production"]


def test_flush_honours_its_timeout():
    from .fake_aitracer_api import FakeAITracerAPI

    with FakeAITracerAPI() as api:
        tracer = AITracer(api_key="at-test", base_url=api.base_url)
        api.hold.clear()
        tracer.log({"model": "gpt-4o-mini", "provider": "openai"})
        assert tracer.flush(timeout=0.2) is False  # the API is still holding the batch
        api.hold.set()
        assert tracer.flush(timeout=10) is True
        assert len({r["span_id"] for r in api.delivered()}) == 1  # once, or twice if the short flush gave up mid-request
        tracer.shutdown()


def test_an_unreachable_api_never_reaches_the_application(fake_openai):
    tracer = AITracer(api_key="at-test", base_url="http://127.0.0.1:9", sync=True)  # nothing listens on port 9
    client = tracer.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
    with tracer.session("s") as session:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        session.thumbs_up()
    assert reply.choices[0].message.content
    stats = tracer._processor.stats()  # session start, the record, feedback, session end: spooled for later
    assert stats["pending"] == 4 and stats["sent"] == 0
    tracer.shutdown()


def test_async_anthropic_and_gemini_clients(tracer, tmp_path):
    import anthropic
    from google import genai

    from otel_aitracer.demo.fake_anthropic import FakeAnthropicServer
    from otel_aitracer.demo.fake_gemini import FakeGeminiServer

    with FakeAnthropicServer() as a, FakeGeminiServer() as g:
        claude = tracer.wrap_anthropic(anthropic.AsyncAnthropic(api_key="k", base_url=a.base_url, max_retries=0))
        gemini = tracer.wrap_gemini(genai.Client(api_key="k", http_options={"base_url": g.base_url}))

        async def main():
            await claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=USER)
            async for _ in await claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=USER, stream=True):
                pass
            async with claude.messages.stream(model="claude-haiku-4-5", max_tokens=20, messages=USER) as stream:
                await stream.until_done()
            await gemini.aio.models.generate_content(model="gemini-2.5-flash", contents="hello")
            async for _ in await gemini.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="hello"):
                pass

        asyncio.run(main())
    assert [(r["provider"], r["output_tokens"] > 0) for r in records(tmp_path)] == [("anthropic", True)] * 3 + [("gemini", True)] * 2


def test_every_openai_entry_point_of_the_wrapped_client(tracer, fake_openai, tmp_path):
    client = tracer.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
    client.chat.completions.parse(model="gpt-4o-mini", messages=USER)
    with client.chat.completions.stream(model="gpt-4o-mini", messages=USER) as stream:
        stream.until_done()
    assert client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER).parse().choices
    client.responses.create(model="gpt-4o-mini", input="hi")
    client.responses.parse(model="gpt-4o-mini", input="hi")
    with client.responses.stream(model="gpt-4o-mini", input="hi") as stream:
        stream.until_done()
    client.embeddings.create(model="text-embedding-3-small", input="hi")
    assert [r["operation"] for r in records(tmp_path)] == ["chat"] * 6 + ["embeddings"]


@pytest.mark.parametrize("flush_on_exit", [True, False])
def test_flush_on_exit(tmp_path, flush_on_exit):
    from .helpers import run_python

    store = tmp_path / "exit.db"
    result = run_python(f"""
        from otel_aitracer import AITracer
        tracer = AITracer(store={str(store)!r}, flush_interval=60.0, flush_on_exit={flush_on_exit})
        tracer.log({{"model": "gpt-4o-mini", "provider": "openai"}})
    """)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert SQLiteStore(store).count() == (1 if flush_on_exit else 0)  # without it, the queued record dies with the process


def test_a_wrapped_client_in_an_instrumented_process_is_recorded_once(fake_openai, tmp_path):
    import otel_aitracer

    pipeline = otel_aitracer.register(store=str(tmp_path / "global.db"), sync=True, instrument=["openai"], agents=False)
    tracer = AITracer(project="facade", sync=True, store=str(tmp_path / "r.db"))
    try:
        client = tracer.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        plain = openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
        plain.chat.completions.create(model="gpt-4o-mini", messages=USER)
    finally:
        tracer.shutdown()
        pipeline.shutdown()
    assert [r["project"] for r in records(tmp_path)] == ["facade"]  # the wrapped client's call, once
    assert len(SQLiteStore(tmp_path / "global.db").query()) == 1  # the other client's call, by register()
