"""span_to_record on real SDK spans written in each convention a collector may deliver."""

from __future__ import annotations

import json

import pytest
from genai_prices import Usage, calc_price
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_aitracer import span_to_record

CURRENT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.cache_read.input_tokens": 1000,
    "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]),
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be kind"}]),
    "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Hello!"}], "finish_reason": "stop"}]),
    "session.id": "s-1",
    "user.id": "u-1",
}


def finished_span(attributes, name="chat gpt-4o-mini", status=None, exception=None, parent=None) -> ReadableSpan:
    tracer = TracerProvider().get_tracer("test")
    span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes, context=parent)
    if exception is not None:
        span.record_exception(exception)
    if status is not None:
        span.set_status(status)
    span.end()
    return span


def test_current_conventions():
    span = finished_span(CURRENT)
    record = span_to_record(span, default_project="p")
    assert record["project"] == "p"
    assert (record["model"], record["provider"], record["operation"]) == ("gpt-4o-mini-2024-07-18", "openai", "chat")
    assert record["input"] == {"messages": [{"role": "system", "content": "Be kind"}, {"role": "user", "content": "Hi"}]}
    assert record["output"] == {"role": "assistant", "content": "Hello!", "finish_reason": "stop"}
    assert (record["input_tokens"], record["output_tokens"], record["cache_read_input_tokens"]) == (1200, 300, 1000)
    assert "cache_creation_input_tokens" not in record
    assert (record["session_id"], record["app_user_id"]) == ("s-1", "u-1")
    assert record["trace_id"] == format(span.context.trace_id, "032x") and len(record["trace_id"]) == 32
    assert record["span_id"] == format(span.context.span_id, "016x")
    assert record["parent_span_id"] is None
    assert record["status"] == "success" and record["error_message"] is None
    assert record["latency_ms"] == (span.end_time - span.start_time) // 1_000_000
    assert record["started_at"].endswith("Z")


def test_cost_comes_from_genai_prices_with_cached_tokens():
    record = span_to_record(finished_span(CURRENT))
    expected = calc_price(Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000), "gpt-4o-mini-2024-07-18", provider_id="openai")
    assert record["cost"] == pytest.approx(float(expected.total_price))
    uncached = calc_price(Usage(input_tokens=1200, output_tokens=300), "gpt-4o-mini-2024-07-18", provider_id="openai")
    assert record["cost"] < float(uncached.total_price)


def test_unknown_model_has_no_cost():
    record = span_to_record(finished_span({**CURRENT, "gen_ai.response.model": "house-model-7"}))
    assert record["model"] == "house-model-7" and "cost" not in record


def test_non_genai_span_is_not_a_record():
    assert span_to_record(finished_span({"http.request.method": "GET"}, name="GET /")) is None


def test_error_status_and_exception_message():
    span = finished_span({**CURRENT, "error.type": "RateLimitError"}, exception=RuntimeError("slow down"), status=Status(StatusCode.ERROR))
    record = span_to_record(span)
    assert record["status"] == "error" and record["error_message"] == "slow down"


def test_content_off_marks_redacted():
    record = span_to_record(finished_span(CURRENT), capture_content=False)
    assert record["input"] == {"redacted": True} and record["output"] == {"redacted": True}


def test_metadata_is_capped_at_ten_keys_and_project_attribute_wins():
    metadata = {f"k{i}": i for i in range(15)}
    record = span_to_record(finished_span({**CURRENT, "aitracer.metadata": json.dumps(metadata), "aitracer.project": "proj-x"}), default_project="d")
    assert record["metadata"] == {f"k{i}": i for i in range(10)}
    assert record["project"] == "proj-x"


def test_deprecated_gen_ai_system_and_indexed_prompts():
    attrs = {
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-3-5-haiku-20241022",
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "second",
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "first",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "answer",
        "gen_ai.usage.prompt_tokens": "40",
        "gen_ai.usage.completion_tokens": 10,
    }
    record = span_to_record(finished_span(attrs, name="anthropic.chat"))
    assert (record["provider"], record["operation"]) == ("anthropic", "chat")
    assert [m["content"] for m in record["input"]["messages"]] == ["first", "second"]
    assert record["output"]["content"] == "answer"
    assert (record["input_tokens"], record["output_tokens"]) == (40, 10)
    assert record["cost"] > 0


def test_openllmetry_request_type():
    attrs = {"llm.request.type": "embedding", "gen_ai.system": "openai", "gen_ai.request.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": 8}
    record = span_to_record(finished_span(attrs, name="openai.embeddings"))
    assert record["operation"] == "embeddings" and record["input_tokens"] == 8


def test_openinference_llm_span():
    attrs = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-2024-08-06",
        "llm.provider": "openai",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "Hi",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "Hey",
        "llm.token_count.prompt": 5,
        "llm.token_count.completion": 2,
        "llm.token_count.prompt_details.cache_write": 3,
        "metadata": json.dumps({"tenant": "acme"}),
        "tag.tags": ["beta"],
    }
    record = span_to_record(finished_span(attrs, name="ChatCompletion"))
    assert (record["model"], record["provider"]) == ("gpt-4o-2024-08-06", "openai")
    assert record["input"]["messages"] == [{"role": "user", "content": "Hi"}]
    assert record["output"]["content"] == "Hey"
    assert (record["input_tokens"], record["output_tokens"], record["cache_creation_input_tokens"]) == (5, 2, 3)
    assert record["metadata"] == {"tenant": "acme"} and record["tags"] == ["beta"]


def test_openinference_chain_span_is_not_a_record():
    assert span_to_record(finished_span({"openinference.span.kind": "CHAIN"}, name="chain")) is None


def test_parent_span_id_is_hex():
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("parent") as parent:
        child = finished_span(CURRENT)
    assert span_to_record(child)["parent_span_id"] == format(parent.get_span_context().span_id, "016x")


def test_tool_and_agent_names():
    attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search", "gen_ai.agent.name": "researcher"}
    record = span_to_record(finished_span(attrs, name="execute_tool search"))
    assert (record["operation"], record["tool_name"], record["agent_name"]) == ("execute_tool", "search", "researcher")
    assert record["model"] is None and "cost" not in record


def _with_events(attributes, name, events):
    tracer = TracerProvider().get_tracer("test")
    span = tracer.start_span(name, attributes=attributes)
    for event_name, event_attributes in events:
        span.add_event(event_name, event_attributes)
    span.end()
    return span


def test_a_tool_calls_arguments_and_result_from_its_span_events():
    """Strands (without the latest-conventions opt-in) writes them as the older conventions' span events."""
    attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"}
    events = [("gen_ai.tool.message", {"role": "tool", "content": '{"city": "Paris"}', "id": "t1"}), ("gen_ai.choice", {"message": '[{"text": "sunny"}]', "id": "t1"})]
    record = span_to_record(_with_events(attrs, "execute_tool get_weather", events))
    assert record["input"] == {"arguments": {"city": "Paris"}} and record["output"] == {"result": [{"text": "sunny"}]}
    assert span_to_record(_with_events(attrs, "execute_tool get_weather", events), capture_content=False)["input"] == {"redacted": True}  # withheld


def test_a_model_calls_messages_from_its_span_events_when_its_attributes_have_none():
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
    events = [("gen_ai.user.message", {"content": "Hi"}), ("gen_ai.choice", {"message": "Hello!", "finish_reason": "stop"})]
    record = span_to_record(_with_events(attrs, "chat", events))
    assert record["input"] == {"messages": [{"role": "user", "content": "Hi"}]}
    assert record["output"] == {"role": "assistant", "content": "Hello!"}
    assert span_to_record(_with_events(attrs, "chat", events), capture_content=False)["input"] == {"redacted": True}
    events = [("gen_ai.user.message", {"content": "Bonjour"}), ("gen_ai.choice", {"message": "Salut !"})]
    record = span_to_record(_with_events(CURRENT, "chat", events))  # the attributes win
    assert "Bonjour" not in json.dumps(record["input"]) and record["output"]["content"] == "Hello!"


@pytest.mark.parametrize("operation", ["invoke_agent", "invoke_workflow"])
def test_an_agent_runs_usage_total_is_not_priced_again(operation):
    """Strands and Pydantic AI put the run's total usage on the agent span: its model calls are priced already."""
    attrs = {**CURRENT, "gen_ai.operation.name": operation, "gen_ai.agent.name": "a"}
    record = span_to_record(finished_span(attrs, name=f"{operation} a"))
    assert record["input_tokens"] == 1200 and "cost" not in record


@pytest.mark.parametrize(
    ("start_ns", "started_at"),
    [
        (1_700_000_000_123_456_789, "2023-11-14T22:13:20.123457Z"),
        (1_700_000_000_000_000_499, "2023-11-14T22:13:20.000000Z"),
        (1_700_000_000_000_000_500, "2023-11-14T22:13:20.000001Z"),  # to the nearest microsecond, half up
        (1_700_000_000_999_999_600, "2023-11-14T22:13:21.000000Z"),  # rounding carries into the next second
        (1_795_818_505_309_679_545, "2026-11-27T22:28:25.309680Z"),
        (1_798_761_599_999_999_999, "2027-01-01T00:00:00.000000Z"),  # and into the next year
    ],
)
def test_a_spans_start_is_written_to_the_exact_microsecond(start_ns, started_at):
    """A float holds a 2026 time to a quarter of a microsecond only; the start is written with integer arithmetic
    (records on PostgreSQL are keyed by it, so the same span must always give the same text)."""
    tracer = TracerProvider().get_tracer("test")
    span = tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=CURRENT, start_time=start_ns)
    span.end(end_time=start_ns + 1_000_000)
    assert span_to_record(span)["started_at"] == started_at
