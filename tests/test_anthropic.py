"""AnthropicInstrumentor: the real anthropic SDK over HTTP on 127.0.0.1 against the fake Messages API."""

from __future__ import annotations

import asyncio
import gc
import json

import anthropic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from instrumentors.anthropic import AnthropicInstrumentor
from otel_aitracer import span_to_record
from otel_aitracer.demo.fake_anthropic import FakeAnthropicServer

MODEL = "claude-haiku-4-5"
USER = [{"role": "user", "content": "What is OpenTelemetry?"}]
TOOLS = [{"name": "get_weather", "description": "Weather for a city", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}]


@pytest.fixture(scope="session")
def fake_anthropic():
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def exporter(span_exporter) -> InMemorySpanExporter:
    return span_exporter


@pytest.fixture
def provider(tracer_provider) -> TracerProvider:
    return tracer_provider


@pytest.fixture
def instrumented(provider):
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    yield instrumentor
    instrumentor.uninstrument()


def make_client(server, provider, cls=anthropic.Anthropic, sdk_tracing=True):
    """A client whose own (SDK) tracing goes to the same provider, as it would with a global one."""
    option = {"tracer_provider": provider} if sdk_tracing else False
    return cls(api_key="sk-ant-test", base_url=server.base_url, max_retries=0, open_telemetry=option)


@pytest.fixture
def client(fake_anthropic, provider):
    return make_client(fake_anthropic, provider)


@pytest.fixture
def async_client(fake_anthropic, provider):
    return make_client(fake_anthropic, provider, anthropic.AsyncAnthropic)


def only_span(exporter):
    [span] = exporter.get_finished_spans()
    return span


def test_create_is_one_chat_span_with_conventions(instrumented, client, exporter, fake_anthropic):
    message = client.messages.create(model=MODEL, max_tokens=200, stop_sequences=["\n\n"], system="Be brief.", messages=USER, output_config={"effort": "low"})
    span = only_span(exporter)
    assert span.name == f"chat {MODEL}" and span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes)
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.max_tokens"] == 200 and attrs["gen_ai.request.stop_sequences"] == ("\n\n",)
    assert attrs["gen_ai.request.reasoning.level"] == "low"
    assert attrs["gen_ai.response.id"] == message.id and attrs["gen_ai.response.model"] == message.model
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == message.usage.input_tokens
    assert attrs["gen_ai.usage.output_tokens"] == message.usage.output_tokens
    assert json.loads(attrs["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attrs["gen_ai.input.messages"]) == [{"role": "user", "parts": [{"type": "text", "content": USER[0]["content"]}]}]
    [out] = json.loads(attrs["gen_ai.output.messages"])
    assert out == {"role": "assistant", "parts": [{"type": "text", "content": message.content[0].text}], "finish_reason": "stop"}
    assert attrs["server.address"] == "127.0.0.1"


def test_cache_reads_and_writes_count_as_input_tokens(instrumented, client, exporter):
    system = [{"type": "text", "text": "You are a careful assistant. " * 20, "cache_control": {"type": "ephemeral"}}]
    message = client.messages.create(model=MODEL, max_tokens=50, system=system, messages=USER)
    attrs = dict(only_span(exporter).attributes)
    usage = message.usage
    assert usage.cache_read_input_tokens > 0
    assert attrs["gen_ai.usage.input_tokens"] == usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == usage.cache_read_input_tokens
    record = span_to_record(only_span(exporter))
    assert record["cache_read_input_tokens"] == usage.cache_read_input_tokens and record["cost"] > 0


def test_tool_use_and_tool_result_round_trip(instrumented, client, exporter):
    first = client.messages.create(model=MODEL, max_tokens=100, tools=TOOLS, messages=USER)
    tool_use = first.content[1]
    follow_up = USER + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "rainy, 14°C"}]},
    ]
    client.messages.create(model=MODEL, max_tokens=100, tools=TOOLS, messages=follow_up)
    first_span, second_span = exporter.get_finished_spans()
    assert first_span.attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    [out] = json.loads(first_span.attributes["gen_ai.output.messages"])
    assert out["parts"][1] == {"type": "tool_call", "id": tool_use.id, "name": "get_weather", "arguments": {"location": "Paris"}}
    sent = json.loads(second_span.attributes["gen_ai.input.messages"])
    assert sent[2]["parts"] == [{"type": "tool_call_response", "id": tool_use.id, "response": "rainy, 14°C"}]


def test_inline_base64_image_becomes_a_placeholder(instrumented, client, exporter):
    data = "iVBORw0KGgo" + "A" * 4000
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}, {"type": "text", "text": "What is this?"}]
    client.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": content}])
    raw = only_span(exporter).attributes["gen_ai.input.messages"]
    assert data not in raw
    part = json.loads(raw)[0]["parts"][0]
    assert part["type"] == "blob" and part["modality"] == "image" and part["mime_type"] == "image/png"
    assert part["content"].startswith(f"<{len(data)} bytes, sha256:")


def test_binary_content_base64_captures_the_bytes_as_the_conventions_define(provider, client, exporter):
    data = "iVBORw0KGgo" + "B" * 400
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True, binary_content="base64")
    try:
        content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}]
        client.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": content}])
    finally:
        instrumentor.uninstrument()
        from instrumentors._genai import set_binary_content

        set_binary_content("placeholder")  # the default, for the tests that follow
    part = json.loads(only_span(exporter).attributes["gen_ai.input.messages"])[0]["parts"][0]
    assert part == {"type": "blob", "modality": "image", "mime_type": "image/png", "content": data}
    with pytest.raises(ValueError, match="binary_content"):
        AnthropicInstrumentor().instrument(tracer_provider=provider, binary_content="hex")


@pytest.mark.parametrize("sdk_tracing", [True, False])
def test_one_call_is_one_span_whether_or_not_the_sdk_traces_itself(instrumented, fake_anthropic, provider, exporter, sdk_tracing):
    client = make_client(fake_anthropic, provider, sdk_tracing=sdk_tracing)
    client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    for _ in client.messages.create(model=MODEL, max_tokens=20, messages=USER, stream=True):
        pass
    with client.messages.stream(model=MODEL, max_tokens=20, messages=USER) as stream:
        stream.until_done()
    spans = exporter.get_finished_spans()
    assert [s.instrumentation_scope.name for s in spans] == ["instrumentors.anthropic"] * 3
    assert sum(1 for s in spans if span_to_record(s) is not None) == 3


def test_without_our_instrumentor_the_sdks_own_span_becomes_the_record(client, exporter):
    message = client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    span = only_span(exporter)
    assert span.name == "anthropic.messages.create" and span.instrumentation_scope.name == "com.anthropic.sdk.python"
    record = span_to_record(span)
    assert record["provider"] == "anthropic" and record["operation"] == "chat"
    assert record["model"] == message.model and record["input_tokens"] == message.usage.input_tokens
    assert record["output_tokens"] == message.usage.output_tokens


def test_uninstrument_restores_the_sdk(provider, client, exporter):
    original = anthropic.resources.messages.messages.Messages.create
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    instrumentor.instrument(tracer_provider=provider)  # twice: still one wrapper
    client.messages.create(model=MODEL, max_tokens=20, messages=USER)
    assert [s.name for s in exporter.get_finished_spans()] == [f"chat {MODEL}"]
    instrumentor.uninstrument()
    assert anthropic.resources.messages.messages.Messages.create is original
    assert not hasattr(anthropic._base_client.start_api_call_span, "__wrapped__")


def test_content_is_off_unless_asked(provider, client, exporter, monkeypatch):
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client.messages.create(model=MODEL, max_tokens=20, system="secret prompt", messages=USER)
    finally:
        instrumentor.uninstrument()
    attrs = only_span(exporter).attributes
    assert not {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"} & set(attrs)


def test_api_error_fails_the_span(instrumented, client, exporter):
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="error-429", max_tokens=20, messages=USER)
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR and span.attributes["error.type"] == "RateLimitError"


# ---- streams: every way a stream can end, sync and async ----------------------------------------


def stream_attrs(exporter):
    return dict(only_span(exporter).attributes)


def test_raw_stream_exhausted(instrumented, client, exporter):
    events = list(client.messages.create(model=MODEL, max_tokens=50, messages=USER, stream=True))
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    attrs = stream_attrs(exporter)
    assert attrs["gen_ai.request.stream"] is True and attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.output_tokens"] == [e for e in events if e.type == "message_delta"][0].usage.output_tokens
    assert attrs["gen_ai.usage.input_tokens"] == events[0].message.usage.input_tokens
    assert json.loads(attrs["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": text}]
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0


def test_raw_stream_with_tool_use_accumulates_the_arguments(instrumented, client, exporter):
    for _ in client.messages.create(model=MODEL, max_tokens=50, messages=USER, tools=TOOLS, stream=True):
        pass
    [out] = json.loads(stream_attrs(exporter)["gen_ai.output.messages"])
    assert out["finish_reason"] == "tool_call"
    assert out["parts"][1]["name"] == "get_weather" and out["parts"][1]["arguments"] == {"location": "Paris"}


def test_raw_stream_closed_after_break(instrumented, client, exporter):
    stream = client.messages.create(model=MODEL, max_tokens=50, messages=USER, stream=True)
    for event in stream:
        if event.type == "content_block_delta":
            break
    assert exporter.get_finished_spans() == ()
    stream.close()
    attrs = stream_attrs(exporter)
    assert attrs["gen_ai.response.finish_reasons"] == ("error",)


def test_raw_stream_left_through_with(instrumented, client, exporter):
    with client.messages.create(model=MODEL, max_tokens=50, messages=USER, stream=True) as stream:
        next(iter(stream))
    assert only_span(exporter).status.status_code is StatusCode.UNSET


def test_raw_stream_error_event_fails_the_span(instrumented, client, exporter):
    with pytest.raises(anthropic.APIStatusError):
        for _ in client.messages.create(model="stream-error", max_tokens=50, messages=USER, stream=True):
            pass
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert json.loads(span.attributes["gen_ai.output.messages"])[0]["finish_reason"] == "error"


def test_raw_stream_dropped_is_ended_by_gc(instrumented, client, exporter):
    stream = client.messages.create(model=MODEL, max_tokens=50, messages=USER, stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    assert len(exporter.get_finished_spans()) == 1


def test_stream_helper_reads_the_helpers_own_message(instrumented, client, exporter):
    with client.messages.stream(model=MODEL, max_tokens=50, messages=USER, tools=TOOLS) as stream:
        message = stream.get_final_message()
    attrs = stream_attrs(exporter)
    assert attrs["gen_ai.response.id"] == message.id and attrs["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert attrs["gen_ai.usage.output_tokens"] == message.usage.output_tokens


def test_stream_helper_left_early(instrumented, client, exporter):
    with client.messages.stream(model=MODEL, max_tokens=50, messages=USER) as stream:
        for event in stream:
            if event.type == "text":
                break
    assert stream_attrs(exporter)["gen_ai.response.finish_reasons"] == ("error",)


def test_stream_helper_error_fails_the_span(instrumented, client, exporter):
    with pytest.raises(anthropic.APIStatusError):
        with client.messages.stream(model="stream-error", max_tokens=50, messages=USER) as stream:
            stream.until_done()
    assert only_span(exporter).status.status_code is StatusCode.ERROR


def test_application_error_inside_the_helper_is_not_the_calls(instrumented, client, exporter):
    with pytest.raises(KeyError):
        with client.messages.stream(model=MODEL, max_tokens=50, messages=USER) as stream:
            stream.until_done()
            raise KeyError("app")
    assert only_span(exporter).status.status_code is StatusCode.UNSET


def test_async_create_stream_and_helper(instrumented, async_client, exporter):
    async def run():
        await async_client.messages.create(model=MODEL, max_tokens=20, messages=USER)
        stream = await async_client.messages.create(model=MODEL, max_tokens=20, messages=USER, stream=True)
        async for event in stream:
            if event.type == "content_block_delta":
                break
        await stream.close()
        async with async_client.messages.stream(model=MODEL, max_tokens=20, messages=USER) as helper:
            async for _ in helper:
                pass
        with pytest.raises(anthropic.APIStatusError):
            async for _ in await async_client.messages.create(model="stream-error", max_tokens=20, messages=USER, stream=True):
                pass

    asyncio.run(run())
    spans = exporter.get_finished_spans()
    assert [s.attributes["gen_ai.response.finish_reasons"] for s in spans[:3]] == [("stop",), ("error",), ("stop",)]
    assert spans[3].status.status_code is StatusCode.ERROR
    assert all(s.instrumentation_scope.name == "instrumentors.anthropic" for s in spans)


def test_with_raw_response_is_traced_and_still_works(instrumented, client, exporter):
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=20, messages=USER)
    message = raw.parse()
    assert only_span(exporter).attributes["gen_ai.response.id"] == message.id
