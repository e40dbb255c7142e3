"""OpenAI Responses API and embeddings through the real openai SDK against the fake API."""

from __future__ import annotations

import asyncio
import gc
import json

from opentelemetry.trace import StatusCode

from otel_aitracer import span_to_record

MODEL = "gpt-4.1-mini"
TOOLS = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]


def only_span(exporter):
    [span] = exporter.get_finished_spans()
    return span


def test_create_is_a_chat_span_of_the_responses_api(instrument, client, span_exporter):
    response = client.responses.create(model=MODEL, input="What is OpenTelemetry?", instructions="Be brief.", max_output_tokens=90, reasoning={"effort": "low"})
    span = only_span(span_exporter)
    attrs = dict(span.attributes)
    assert span.name == f"chat {MODEL}"
    assert (attrs["gen_ai.operation.name"], attrs["openai.api.type"]) == ("chat", "responses")
    assert attrs["gen_ai.request.max_tokens"] == 90 and attrs["gen_ai.request.reasoning.level"] == "low"
    assert attrs["gen_ai.response.id"] == response.id and attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == response.usage.input_tokens
    assert json.loads(attrs["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attrs["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": response.output_text}]
    record = span_to_record(span)
    assert record["input"]["messages"][0] == {"role": "system", "content": "Be brief."} and record["cost"] > 0


def test_function_call_round_trip(instrument, client, span_exporter):
    first = client.responses.create(model=MODEL, input="Weather in Paris?", tools=TOOLS)
    call = first.output[0]
    follow_up = [{"role": "user", "content": "Weather in Paris?"}, call.model_dump(exclude_none=True), {"type": "function_call_output", "call_id": call.call_id, "output": "rainy"}]
    client.responses.create(model=MODEL, input=follow_up, tools=TOOLS, previous_response_id=first.id)
    one, two = span_exporter.get_finished_spans()
    assert one.attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert json.loads(one.attributes["gen_ai.output.messages"])[0]["parts"][0]["arguments"] == {"location": "Paris"}
    sent = json.loads(two.attributes["gen_ai.input.messages"])
    assert sent[1]["parts"][0]["type"] == "tool_call" and sent[2] == {"role": "tool", "parts": [{"type": "tool_call_response", "id": call.call_id, "response": "rainy"}]}
    assert two.attributes["gen_ai.request.previous_response.id"] == first.id


def test_stream_exhausted_and_the_stream_helper(instrument, client, span_exporter):
    events = list(client.responses.create(model=MODEL, input="stream this", stream=True))
    with client.responses.stream(model=MODEL, input="helper") as stream:
        final = stream.get_final_response()
    first, second = span_exporter.get_finished_spans()
    assert first.attributes["gen_ai.response.id"] == events[-1].response.id
    assert first.attributes["gen_ai.usage.output_tokens"] == events[-1].response.usage.output_tokens
    assert second.attributes["gen_ai.response.id"] == final.id
    assert all(s.attributes["gen_ai.request.stream"] is True for s in (first, second))


def test_stream_closed_early_keeps_the_text_so_far(instrument, client, span_exporter):
    stream = client.responses.create(model=MODEL, input="stream this", stream=True)
    texts = []
    for event in stream:
        if event.type == "response.output_text.delta":
            texts.append(event.delta)
            if len(texts) == 2:
                break
    stream.close()
    attrs = only_span(span_exporter).attributes
    assert attrs["gen_ai.response.finish_reasons"] == ("error",)
    assert json.loads(attrs["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": "".join(texts)}]


def test_stream_error_event_fails_the_span(instrument, client, span_exporter):
    events = list(client.responses.create(model="stream-error", input="x y z", stream=True))
    assert events[-1].type == "error"  # the SDK hands error events to the application, it does not raise
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR and span.attributes["error.type"] == "server_error"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)


def test_stream_dropped_is_ended_by_gc(instrument, client, span_exporter):
    stream = client.responses.create(model=MODEL, input="stream", stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    assert only_span(span_exporter).attributes["gen_ai.response.finish_reasons"] == ("error",)


def test_async_responses_and_embeddings(instrument, async_client, span_exporter):
    async def run():
        await async_client.responses.create(model=MODEL, input="async")
        async for _ in await async_client.responses.create(model=MODEL, input="async stream", stream=True):
            pass
        await async_client.embeddings.create(model="text-embedding-3-small", input="x")

    asyncio.run(run())
    assert [s.name for s in span_exporter.get_finished_spans()] == [f"chat {MODEL}", f"chat {MODEL}", "embeddings text-embedding-3-small"]


def test_embeddings_span(instrument, client, span_exporter):
    result = client.embeddings.create(model="text-embedding-3-small", input=["a", "bb"], dimensions=8, encoding_format="float")
    span = only_span(span_exporter)
    attrs = dict(span.attributes)
    assert span.name == "embeddings text-embedding-3-small" and attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["gen_ai.embeddings.dimension.count"] == 8 and attrs["gen_ai.request.encoding_formats"] == ("float",)
    assert attrs["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    assert "gen_ai.input.messages" not in attrs  # the conventions define no content for embeddings
    record = span_to_record(span)
    assert record["operation"] == "embeddings" and record["input_tokens"] == result.usage.prompt_tokens


def test_with_raw_response_and_parse(instrument, client, span_exporter):
    raw = client.responses.with_raw_response.create(model=MODEL, input="raw")
    assert raw.parse().output_text
    raw_chat = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "raw"}])
    assert raw_chat.parse().choices[0].message.content
    parsed = client.chat.completions.parse(model="gpt-4o-mini", messages=[{"role": "user", "content": "parse"}])
    assert parsed.choices[0].message.content
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 3 and all(s.attributes.get("gen_ai.response.id") for s in spans)


def test_inline_base64_image_in_chat_becomes_a_placeholder(instrument, client, span_exporter):
    data = "iVBORw0KGgo" + "B" * 3000
    content = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}]
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])
    raw = only_span(span_exporter).attributes["gen_ai.input.messages"]
    assert data not in raw
    blob = json.loads(raw)[0]["parts"][1]
    assert blob["type"] == "blob" and blob["mime_type"] == "image/png" and blob["content"].startswith(f"<{len(data)} bytes, sha256:")
