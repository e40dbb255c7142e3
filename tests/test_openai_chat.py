"""Non-streaming chat completions become one GenAI span with the conventions' attributes."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from instrumentors.openai import OpenAIInstrumentor

from .helpers import USER


def only_span(span_exporter):
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def test_chat_span_has_request_response_and_usage(instrument, client, span_exporter, fake_openai):
    response = client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, temperature=0.2, top_p=0.9, max_tokens=50, seed=7, stop="END", n=2
    )
    span = only_span(span_exporter)
    attrs = span.attributes
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["openai.api.type"] == "chat_completions"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert (attrs["gen_ai.request.temperature"], attrs["gen_ai.request.top_p"]) == (0.2, 0.9)
    assert (attrs["gen_ai.request.max_tokens"], attrs["gen_ai.request.seed"]) == (50, 7)
    assert attrs["gen_ai.request.stop_sequences"] == ("END",)
    assert attrs["gen_ai.request.choice.count"] == 2
    assert attrs["gen_ai.response.id"] == response.id
    assert attrs["gen_ai.response.model"] == response.model != "gpt-4o-mini"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop", "stop")
    assert attrs["gen_ai.usage.input_tokens"] == response.usage.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == response.usage.completion_tokens
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == int(fake_openai.base_url.rsplit(":", 1)[1].split("/")[0])
    assert attrs["openai.response.system_fingerprint"] == response.system_fingerprint
    assert span.status.status_code is StatusCode.UNSET


def test_cache_read_tokens_are_reported(instrument, client, span_exporter):
    response = client.chat.completions.create(model="gpt-4o-mini", messages=USER, prompt_cache_key="k1")
    cached = response.usage.prompt_tokens_details.cached_tokens
    assert cached > 0
    assert only_span(span_exporter).attributes["gen_ai.usage.cache_read.input_tokens"] == cached


def test_content_is_captured_as_json_when_asked(instrument, client, span_exporter):
    messages = [{"role": "system", "content": "Be brief."}, *USER]
    response = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    attrs = only_span(span_exporter).attributes
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": USER[0]["content"]}]},
    ]
    output = json.loads(attrs["gen_ai.output.messages"])
    assert output == [{"role": "assistant", "parts": [{"type": "text", "content": response.choices[0].message.content}], "finish_reason": "stop"}]


def test_tool_calls_are_captured_as_parts(instrument, client, span_exporter):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    response = client.chat.completions.create(model="gpt-4o", messages=USER, tools=[tool])
    call = response.choices[0].message.tool_calls[0]
    attrs = only_span(span_exporter).attributes
    assert attrs["gen_ai.response.finish_reasons"] == ("tool_call",)
    part = json.loads(attrs["gen_ai.output.messages"])[0]["parts"][0]
    assert part == {"type": "tool_call", "id": call.id, "name": "lookup", "arguments": json.loads(call.function.arguments)}


def call_with_default_capture(tracer_provider, client, span_exporter):
    """One call through an instrumentor given no ``capture_content``: env var or default decides."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    finally:
        instrumentor.uninstrument()
    return only_span(span_exporter).attributes


def test_no_content_without_opt_in(tracer_provider, client, span_exporter):
    attrs = call_with_default_capture(tracer_provider, client, span_exporter)
    assert "gen_ai.input.messages" not in attrs and "gen_ai.output.messages" not in attrs
    assert attrs["gen_ai.usage.output_tokens"] > 0


@pytest.mark.parametrize(("value", "captured"), [("SPAN_ONLY", True), ("span_and_event", True), ("true", True), ("NO_CONTENT", False), ("bogus", False)])
def test_env_var_switches_content_capture(monkeypatch, tracer_provider, client, span_exporter, value, captured):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    attrs = call_with_default_capture(tracer_provider, client, span_exporter)
    assert ("gen_ai.input.messages" in attrs) is captured


def test_async_chat(instrument, async_client, span_exporter):
    response = asyncio.run(async_client.chat.completions.create(model="gpt-4o-mini", messages=USER))
    span = only_span(span_exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes["gen_ai.response.id"] == response.id


@pytest.mark.parametrize(("model", "error"), [("error-429", openai.RateLimitError), ("error-500", openai.InternalServerError), ("error-400", openai.BadRequestError)])
def test_api_error_propagates_and_marks_span(instrument, client, span_exporter, model, error):
    with pytest.raises(error) as raised:
        client.chat.completions.create(model=model, messages=USER)
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == error.__name__
    assert span.status.description == str(raised.value)
    assert [e.name for e in span.events] == ["exception"]


def test_async_api_error(instrument, async_client, span_exporter):
    with pytest.raises(openai.RateLimitError):
        asyncio.run(async_client.chat.completions.create(model="error-429", messages=USER))
    assert only_span(span_exporter).attributes["error.type"] == "RateLimitError"


def test_user_argument_errors_propagate_unchanged(instrument, client, span_exporter):
    with pytest.raises(TypeError):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER, not_a_parameter=1)
    assert only_span(span_exporter).attributes["error.type"] == "TypeError"


def test_instrumenting_twice_does_not_double_spans(instrument, tracer_provider, client, span_exporter):
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
    client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert len(span_exporter.get_finished_spans()) == 1


def test_uninstrument_restores_the_sdk(tracer_provider, client, span_exporter):
    original = openai.resources.chat.completions.Completions.create
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    assert openai.resources.chat.completions.Completions.create is not original
    instrumentor.uninstrument()
    assert openai.resources.chat.completions.Completions.create is original
    client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert span_exporter.get_finished_spans() == ()


class _BrokenTracerProvider:
    """An OTel tracer provider whose tracer fails: telemetry breaks, the call must not."""

    def get_tracer(self, *args, **kwargs):
        return self

    def start_span(self, *args, **kwargs):
        raise RuntimeError("tracer is broken")


def test_broken_telemetry_never_reaches_the_app(client):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=_BrokenTracerProvider())
    try:
        response = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    finally:
        instrumentor.uninstrument()
    assert response.choices[0].message.content


def test_call_runs_inside_its_span(instrument, tracer_provider, client, span_exporter):
    tracer = tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request handler") as parent:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    assert spans["chat gpt-4o-mini"].parent.span_id == parent.get_span_context().span_id
