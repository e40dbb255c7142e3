"""``span_to_record``: one finished span in, one AITracer record (SPEC §4) out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from opentelemetry.sdk.trace import Event
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import StatusCode

from .._attributes import LOG_INPUT, LOG_OUTPUT, PROJECT_ATTRIBUTE, STEP_INDEX, STEP_NAME
from .._config import DEFAULT_PROJECT
from .._finished_span import FinishedSpan
from .._record_kinds import RUNS, TOOL
from .._time import rfc3339_ns, utc_second_from_ns
from . import _conventions as conv
from ._pricing import cost_usd

REDACTED = {"redacted": True}
# Attributes that carry what was said (withheld without content capture).
CONTENT_ATTRIBUTES = frozenset({GenAI.GEN_AI_INPUT_MESSAGES, GenAI.GEN_AI_OUTPUT_MESSAGES, GenAI.GEN_AI_SYSTEM_INSTRUCTIONS,
                                GenAI.GEN_AI_TOOL_CALL_ARGUMENTS, GenAI.GEN_AI_TOOL_CALL_RESULT, LOG_INPUT, LOG_OUTPUT})


def span_to_record(span: FinishedSpan, *, default_project: str = DEFAULT_PROJECT, capture_content: bool = True) -> dict[str, Any] | None:
    """Map a finished span to an AITracer record; ``None`` when it is not a GenAI operation.

    Pure: reads only the span (and the price table), so the ingest server and
    the in-process processor produce the same record for the same span.
    """
    attrs = span.attributes or {}
    operation = conv.operation(attrs)
    if operation is None:
        return None
    started = utc_second_from_ns(span.start_time or 0)
    model = conv.first(attrs, conv.MODEL_KEYS)
    provider = conv.provider(attrs)
    input_tokens = conv.first_int(attrs, conv.INPUT_TOKEN_KEYS)
    output_tokens = conv.first_int(attrs, conv.OUTPUT_TOKEN_KEYS)
    cache_read = conv.first_int(attrs, conv.CACHE_READ_KEYS)
    cache_creation = conv.first_int(attrs, conv.CACHE_CREATION_KEYS)
    parent = span.parent
    failed = _failed(span, attrs)
    record: dict[str, Any] = {
        "project": str(attrs.get(PROJECT_ATTRIBUTE) or default_project),
        "model": str(model) if model is not None else None,
        "provider": provider,
        "operation": operation,
        "name": str(attrs.get(STEP_NAME) or span.name),
        "input": _content(conv.input_messages(attrs), capture_content),
        "output": _output(conv.output_messages(attrs), capture_content),
        "input_tokens": input_tokens or 0,
        "output_tokens": output_tokens or 0,
        "latency_ms": max(0, ((span.end_time or span.start_time or 0) - (span.start_time or 0)) // 1_000_000),
        "status": "error" if failed else "success",
        "error_message": _error_message(span) if failed else None,
        "metadata": conv.metadata(attrs),
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent is not None else None,
        "session_id": _str_or_none(conv.first(attrs, conv.SESSION_KEYS)),
        "app_user_id": _str_or_none(conv.first(attrs, conv.USER_KEYS)),
        "started_at": rfc3339_ns(span.start_time or 0),
    }
    if operation == TOOL_OPERATION:
        _tool_content(record, attrs, capture_content, span.events)
    elif capture_content and span.events:
        _span_event_content(record, span)
    _logged_content(record, attrs, capture_content)
    if attrs.get(GenAI.GEN_AI_REQUEST_MODEL):  # what was asked for; "model" is what answered (a dated snapshot, say)
        record["request_model"] = str(attrs[GenAI.GEN_AI_REQUEST_MODEL])
    if attrs.get(GenAI.GEN_AI_OUTPUT_TYPE):
        record["output_type"] = str(attrs[GenAI.GEN_AI_OUTPUT_TYPE])
    total = conv.first_int(attrs, conv.TOTAL_KEYS)
    if total is not None:
        record["total_tokens"] = total
    if cache_read:
        record["cache_read_input_tokens"] = cache_read
    if cache_creation:
        record["cache_creation_input_tokens"] = cache_creation
    for key, attr in (("agent_name", GenAI.GEN_AI_AGENT_NAME), ("tool_name", GenAI.GEN_AI_TOOL_NAME)):
        if attrs.get(attr):
            record[key] = str(attrs[attr])
    step = attrs.get(STEP_INDEX)
    if isinstance(step, int):
        record["step_index"] = step
    tags = conv.tags(attrs)
    if tags:
        record["tags"] = tags
    if operation not in RUNS:  # a run's span may carry its calls' total usage (Strands, Pydantic AI): priced on those
        _price(record, attrs, (input_tokens, output_tokens, cache_read, cache_creation), started)
    return record


def _price(record: dict[str, Any], attrs: conv.Attributes, usage: tuple[int | None, int | None, int | None, int | None], started: datetime) -> None:
    """The provider's own figure when it gave one, else genai-prices' price of the usage at the service tier
    (cached and reasoning tokens are parts of input and output, priced once)."""
    reported = conv.provider_cost(attrs)
    if reported is not None:
        record["cost"], record["cost_source"] = reported, "provider"
        return
    tier = conv.first(attrs, conv.SERVICE_TIER_KEYS)
    input_tokens, output_tokens, cache_read, cache_write = usage
    cost = cost_usd(record["model"], record["provider"], input_tokens, output_tokens, cache_read, cache_write, at=started, service_tier=str(tier) if tier else None)
    if cost is not None:
        record["cost"], record["cost_source"] = cost, "local"


TOOL_OPERATION = TOOL


def _tool_content(record: dict[str, Any], attrs: conv.Attributes, capture: bool, events: Sequence[Event]) -> None:
    """A tool call's arguments and result are its input and output: attributes, or the older conventions'
    span events (``gen_ai.tool.message`` with the arguments, ``gen_ai.choice`` with the result; Strands)."""
    if not capture:
        return
    arguments, result = attrs.get(GenAI.GEN_AI_TOOL_CALL_ARGUMENTS), attrs.get(GenAI.GEN_AI_TOOL_CALL_RESULT)
    for event in events:
        said = event.attributes or {}
        if arguments is None and event.name == _TOOL_MESSAGE_EVENT:
            arguments = said.get("content")
        elif result is None and event.name == _CHOICE_EVENT:
            result = said.get("message")
    if arguments is not None:
        record["input"] = {"arguments": conv.json_value(arguments)}
    if result is not None:
        record["output"] = {"result": conv.json_value(result)}


def _span_event_content(record: dict[str, Any], span: FinishedSpan) -> None:
    """What was said, from span events, where the span's attributes carry none (older conventions)."""
    if record["input"] is not None and record["output"] is not None:
        return
    as_logged = [{"name": e.name, "body": dict(e.attributes or {}), "attributes": dict(e.attributes or {})} for e in span.events]
    said, answered = event_content(as_logged)
    record["input"] = record["input"] if record["input"] is not None else said
    record["output"] = record["output"] if record["output"] is not None else answered


def _logged_content(record: dict[str, Any], attrs: conv.Attributes, capture: bool) -> None:
    """``AITracer.log()`` input_data / output_data, recorded as given."""
    for field, key in (("input", LOG_INPUT), ("output", LOG_OUTPUT)):
        if key in attrs:
            record[field] = conv.json_value(attrs[key]) if capture else REDACTED


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _content(messages: list[dict[str, Any]] | None, capture: bool) -> Any:
    if not capture:
        return REDACTED
    return {"messages": messages} if messages is not None else None


def _output(messages: list[dict[str, Any]] | None, capture: bool) -> Any:
    """One choice as the message itself (the seed's ``{"content": ...}``); several as ``choices``."""
    if not capture:
        return REDACTED
    if not messages:
        return None
    return messages[0] if len(messages) == 1 else {"choices": messages}


def _failed(span: FinishedSpan, attrs: conv.Attributes) -> bool:
    return span.status.status_code is StatusCode.ERROR or bool(attrs.get("error.type"))


def _error_message(span: FinishedSpan) -> str | None:
    if span.status.description:
        return span.status.description
    for event in span.events:
        if event.name == "exception":
            return str((event.attributes or {}).get("exception.message") or (event.attributes or {}).get("exception.type"))
    error_type = (span.attributes or {}).get("error.type")
    return None if error_type is None else str(error_type)


# Log events the official GenAI instrumentations emit about a call (older conventions: one event per message).
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_TOOL_MESSAGE_EVENT = "gen_ai.tool.message"
_MESSAGE_EVENTS = {"gen_ai.system.message": "system", "gen_ai.user.message": "user", "gen_ai.assistant.message": "assistant", _TOOL_MESSAGE_EVENT: "tool"}
_CHOICE_EVENT = "gen_ai.choice"


def event_content(events: list[dict[str, Any]]) -> tuple[Any, Any]:
    """A call's input and output (the record's shapes) from its log events; None where they carry none."""
    attrs: dict[str, Any] = {}
    said: list[dict[str, Any]] = []
    choices: list[dict[str, Any]] = []
    for event in events:
        name, body, event_attrs = event.get("name"), event.get("body"), event.get("attributes") or {}
        if any(key in event_attrs for key in (GenAI.GEN_AI_INPUT_MESSAGES, GenAI.GEN_AI_OUTPUT_MESSAGES)):
            attrs.update(event_attrs)
        elif name in _MESSAGE_EVENTS:
            said.append(_event_message(body, _MESSAGE_EVENTS[name]))
        elif name == _CHOICE_EVENT:
            choices.append(_event_message(body.get("message") if isinstance(body, dict) else body, "assistant"))
    inputs = conv.input_messages(attrs) if GenAI.GEN_AI_INPUT_MESSAGES in attrs else said or None
    outputs = conv.output_messages(attrs) if GenAI.GEN_AI_OUTPUT_MESSAGES in attrs else choices or None
    return _content(inputs, True) if inputs else None, _output(outputs, True)


def _event_message(body: Any, role: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        return {"role": role, "content": body}
    message = {"role": body.get("role") or role, "content": body.get("content")}
    if body.get("tool_calls"):
        message["tool_calls"] = body["tool_calls"]
    return message
