"""The AITracer record (SPEC §4): one typed definition and one validator.

The mapping builds records, ``AITracer.log()`` fills them by hand, serve receives them
natively; before any of them reaches a store or the wire, :func:`record_problem` says
whether it can be stored at all (types, integer ranges a database can hold), and
:func:`encoded_size` whether JSON can encode its content, so one absurd span is refused
alone instead of failing its batch.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, TypedDict

import orjson

MAX_COUNT = 2**63 - 1  # what a signed 64-bit column (SQLite INTEGER, PostgreSQL bigint) holds
# Fields the stores index: PostgreSQL refuses an index entry over ~2.7 KB, so a longer value could never be stored.
KEY_FIELDS = ("project", "model", "request_model", "provider", "operation", "status", "trace_id", "span_id", "parent_span_id", "session_id", "app_user_id", "started_at")
MAX_KEY_CHARS = 512  # at most 2 KB of UTF-8
# Content nested deeper than JSON encodes (orjson: 254 levels) is refused when the record is encoded, or
# sooner, when redaction's walk meets Python's recursion limit (about 490 levels): see ``RecordPipeline.prepare``.

STRING_FIELDS = (
    "project", "model", "request_model", "provider", "operation", "name", "status", "error_message", "trace_id", "span_id",
    "parent_span_id", "session_id", "app_user_id", "started_at", "agent_name", "tool_name", "output_type",
)  # fmt: skip
COUNT_FIELDS = (
    "input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "latency_ms", "step_index",
    "anomaly_score",
)  # fmt: skip


class Record(TypedDict, total=False):
    project: str
    model: str | None  # the model that answered (the response's), else the one asked for
    request_model: str | None  # the model asked for (gen_ai.request.model)
    provider: str
    operation: str
    name: str
    input: Any
    output: Any
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    latency_ms: int
    status: str
    error_message: str | None
    metadata: dict[str, Any]
    trace_id: str
    span_id: str
    parent_span_id: str | None
    session_id: str | None
    app_user_id: str | None
    started_at: str
    cost: float
    cost_source: str  # "provider" when the provider reported the call's cost, else "local" (priced by genai-prices)
    tags: list[str]
    pii: dict[str, int]
    agent_name: str
    tool_name: str
    step_index: int
    truncated: dict[str, int]
    events: list[dict[str, Any]]  # OTLP log events about the call (serve): name, time, attributes, body
    events_dropped: int  # events past the 64 a record keeps
    total_tokens: int  # a total as reported (provider, log(), OpenLLMetry, OpenInference): checked against input + output
    output_type: str  # gen_ai.output.type: "json" when the request set a JSON response format
    anomaly_score: int  # points of the anomaly codes (SPEC §9); 100 or more is critical
    anomaly_codes: list[int]


def record_problem(record: Any) -> str | None:
    """Why ``record`` can never be stored, or None when it can."""
    if not isinstance(record, dict):
        return "a record must be a JSON object"
    get = record.get  # one pass per field list: this runs for every span serve receives
    for key in STRING_FIELDS:
        value = get(key)
        if value is not None and (type(value) is not str and not isinstance(value, str)):
            return f"{key} must be a string"
        if value is not None and len(value) > MAX_KEY_CHARS and key in KEY_FIELDS:
            return f"{key} is {len(value)} characters; at most {MAX_KEY_CHARS}"
    for key in COUNT_FIELDS:
        value = get(key)
        if value is not None and (type(value) is not int or not 0 <= value <= MAX_COUNT):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
                return f"{key} must be an integer from 0 to 2^63-1, got {_short(value)}"
    if isinstance(record.get("started_at"), str) and not _is_rfc3339(record["started_at"]):
        return f"started_at must be an RFC 3339 time, got {_short(record['started_at'])}"
    cost = record.get("cost")
    if cost is not None and (not isinstance(cost, (int, float)) or isinstance(cost, bool) or not math.isfinite(cost) or cost < 0):
        return f"cost must be a non-negative finite number, got {_short(cost)}"
    if record.get("metadata") is not None and not isinstance(record["metadata"], dict):
        return "metadata must be an object"
    return None


def _is_rfc3339(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return len(text) >= 10 and text[4] == "-"


def encoded_size(record: dict[str, Any]) -> int:
    """The record's size as JSON; :class:`UnencodableRecord` when JSON cannot hold it (nesting past 255 levels,
    integers past 64 bits inside content)."""
    try:
        return len(orjson.dumps(record, default=str))
    except orjson.JSONEncodeError as exc:
        raise UnencodableRecord(str(exc)) from exc


class InvalidRecord(ValueError):
    """A span or record that can never be stored; the message says why (a sender is told, in a 400 or partial success)."""


class UnencodableRecord(InvalidRecord):
    """A record whose content JSON cannot encode."""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
