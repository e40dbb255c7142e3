"""AITracer (the seed SDK's surface), work in progress: construction, wrap_openai, metadata, log()."""

from __future__ import annotations

import asyncio

import openai
import pytest

from otel_aitracer._facade import AITracer
from otel_aitracer._store import SQLiteStore
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
    tracer.log({"model": "gpt-4o-mini", "status": "error", "error_message": "timeout for bob@example.com", "project": "other"})
    ok, failed = records(tmp_path)
    assert ok["input"] == {"q": "mail [EMAIL]"} and ok["output"] == {"a": "ok"} and ok["latency_ms"] == 450
    assert (ok["input_tokens"], ok["output_tokens"], ok["metadata"]) == (12, 3, {"k": "v"}) and ok["cost"] > 0
    assert failed["status"] == "error" and failed["error_message"] == "timeout for [EMAIL]" and failed["project"] == "other"


@pytest.mark.parametrize(
    ("data", "field"),
    [({}, "model"), ({"model": "m", "input_tokens": -1}, "input_tokens"), ({"model": "m", "status": "meh"}, "status"),
     ({"model": "m", "metadata": {str(i): i for i in range(11)}}, "metadata"), ({"model": "m", "colour": "red"}, "colour")],
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
    tracer.log({"model": "m"})
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
        tracer.log({"model": "gpt-4o-mini"})
    with tracer.session("s-1", user_id="u-1"), tracer.trace("req-9") as t:
        t.add_tag("beta")
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    client.chat.completions.create(model="gpt-4o-mini", messages=USER, extra_body={"aitracer_metadata": {"user_id": "u-2"}})
    billing, logged, in_session, by_metadata = records(tmp_path)
    assert (billing["project"], logged["project"]) == ("billing", "billing")
    assert (in_session["session_id"], in_session["app_user_id"], in_session["tags"], in_session["project"]) == ("s-1", "u-1", ["beta"], "facade")
    assert by_metadata["app_user_id"] == "u-2" and by_metadata["project"] == "facade"
