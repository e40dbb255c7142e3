"""A span that crossed OTLP maps to the record the same span makes in-process: serve decodes it into its own light
span type, and ``span_to_record`` must read that as it reads the SDK's ``ReadableSpan``."""

from __future__ import annotations

import json

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from otel_aitracer._recording._mapping import span_to_record
from otel_aitracer.server._dedupe import drop_outer_duplicates
from otel_aitracer.server._otlp import spans

CHAT = {
    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 40,
    "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hello"}]}]),
    "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "hi"}], "finish_reason": "stop"}]),
    "session.id": "s-1", "user.id": "u-1", "tag.tags": ("a", "b"), "metadata": json.dumps({"tier": "gold"}),
}  # fmt: skip


def _finished_spans() -> list:
    """Spans as an app's SDK ends them: a chat call inside an agent, a failed call with an exception event, a tool
    call whose arguments and result are span events (older conventions)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "helper"}):
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=CHAT):
            pass
        with tracer.start_as_current_span("chat failed", attributes={**CHAT, "error.type": "RateLimitError"}) as failed:
            failed.add_event("exception", {"exception.type": "RateLimitError", "exception.message": "slow down"})
            failed.set_status(Status(StatusCode.ERROR, "429 from the provider"))
        with tracer.start_as_current_span("execute_tool search", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}) as tool:
            tool.add_event("gen_ai.tool.message", {"content": '{"q": "weather"}'})
            tool.add_event("gen_ai.choice", {"message": "sunny"})
    provider.shutdown()
    return list(exporter.get_finished_spans())


@pytest.fixture(scope="module")
def sent_and_received():
    finished = _finished_spans()
    request = ExportTraceServiceRequest()
    request.ParseFromString(encode_spans(finished).SerializeToString())
    return finished, list(spans(request))


def test_a_span_decoded_from_otlp_maps_to_the_record_it_makes_in_process(sent_and_received):
    finished, received = sent_and_received
    assert len(received) == len(finished) == 4
    for original, decoded in zip(finished, received):
        expected, got = span_to_record(original), span_to_record(decoded)
        assert got == expected, original.name
    failed = span_to_record(received[1])
    assert failed["status"] == "error" and failed["error_message"] == "429 from the provider"
    assert span_to_record(received[2])["output"] == {"result": "sunny"}


def test_decoded_spans_keep_their_ids_and_parents_for_deduplication(sent_and_received):
    finished, received = sent_and_received
    for original, decoded in zip(finished, received):
        assert (decoded.context.trace_id, decoded.context.span_id) == (original.context.trace_id, original.context.span_id)
        assert (decoded.parent.span_id if decoded.parent else None) == (original.parent.span_id if original.parent else None)
        assert (decoded.start_time, decoded.end_time, decoded.name) == (original.start_time, original.end_time, original.name)
    records = [span_to_record(span) for span in received]
    assert drop_outer_duplicates(received, records) == drop_outer_duplicates(finished, [span_to_record(span) for span in finished])
