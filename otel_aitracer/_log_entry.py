"""``AITracer.log()`` entries: validated as the seed documents them, then turned into span attributes.

A logged call is a span like any traced call, so it takes the same mapping,
redaction, pricing and sink. Token counts follow the AITracer SDK: ``input_tokens``
excludes cached tokens, which come as ``cache_read_input_tokens`` /
``cache_creation_input_tokens``; the span (and so the record) counts them all, as
the GenAI conventions do.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Mapping

import orjson
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from instrumentors._genai import TOTAL_TOKENS

from ._attributes import LOG_INPUT, LOG_OUTPUT, MAX_METADATA_KEYS, PROJECT_ATTRIBUTE
from .exceptions import ValidationError

_COUNTS = ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "latency_ms")
_TEXT = ("error_message", "error_type", "project")
_IDS = {"trace_id": 32, "parent_span_id": 16}
FIELDS = frozenset(("model", "provider", "input_data", "output_data", "status", "metadata", *_COUNTS, *_TEXT, *_IDS))


def validated(data: Any) -> dict[str, Any]:
    """The entry as a dict; :class:`ValidationError` names the first bad field."""
    if not isinstance(data, Mapping):
        raise ValidationError("data", f"must be a dict, got {type(data).__name__}")
    unknown = set(data) - FIELDS
    if unknown:
        raise ValidationError(sorted(unknown)[0], f"is not a log field (known: {', '.join(sorted(FIELDS))})")
    for field in ("model", "provider"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise ValidationError(field, "is required and must be a non-empty string")
    for field in _COUNTS:
        value = data.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValidationError(field, f"must be a non-negative integer, got {value!r}")
    for field in _TEXT:
        if data.get(field) is not None and not isinstance(data[field], str):
            raise ValidationError(field, f"must be a string, got {type(data[field]).__name__}")
    for field, width in _IDS.items():
        if data.get(field) is not None and not _is_hex(data[field], width):
            raise ValidationError(field, f"must be {width} lowercase hex digits, got {data[field]!r}")
    if data.get("status", "success") not in ("success", "error"):
        raise ValidationError("status", f"must be 'success' or 'error', got {data.get('status')!r}")
    metadata = data.get("metadata")
    if metadata is not None and (not isinstance(metadata, Mapping) or len(metadata) > MAX_METADATA_KEYS):
        raise ValidationError("metadata", f"must be a dict of at most {MAX_METADATA_KEYS} keys")
    return dict(data)


def span_attributes(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The GenAI attributes of the logged call (project only when the entry overrides it)."""
    cache_read, cache_creation = entry.get("cache_read_input_tokens") or 0, entry.get("cache_creation_input_tokens") or 0
    attrs: dict[str, Any] = {
        GenAI.GEN_AI_OPERATION_NAME: GenAI.GenAiOperationNameValues.CHAT.value,
        GenAI.GEN_AI_PROVIDER_NAME: entry["provider"],
        GenAI.GEN_AI_REQUEST_MODEL: entry["model"],
        GenAI.GEN_AI_USAGE_INPUT_TOKENS: (entry.get("input_tokens") or 0) + cache_read + cache_creation,
        GenAI.GEN_AI_USAGE_OUTPUT_TOKENS: entry.get("output_tokens") or 0,
    }
    if entry.get("total_tokens") is not None:  # as the caller counted it: the seed's anomaly check compares it
        attrs[TOTAL_TOKENS] = entry["total_tokens"]
    if cache_read:
        attrs[GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
    if cache_creation:
        attrs[GenAI.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_creation
    if entry.get("project"):
        attrs[PROJECT_ATTRIBUTE] = entry["project"]
    if entry.get("error_type"):
        attrs[ERROR_TYPE] = entry["error_type"]
    for field, key in (("input_data", LOG_INPUT), ("output_data", LOG_OUTPUT)):
        if entry.get(field) is not None:
            attrs[key] = orjson.dumps(entry[field], default=str).decode()
    return attrs


def span_times(entry: Mapping[str, Any]) -> tuple[int, int]:
    """Start and end (ns): the call ended now and lasted ``latency_ms``."""
    end = time.time_ns()
    return end - (entry.get("latency_ms") or 0) * 1_000_000, end


def parent_context(entry: Mapping[str, Any]) -> otel_context.Context | None:
    """The entry's own ``trace_id`` / ``parent_span_id``, else the current context."""
    if entry.get("trace_id") is None:
        return None
    parent_id = int(entry["parent_span_id"], 16) if entry.get("parent_span_id") else secrets.randbits(64) or 1
    parent = SpanContext(int(entry["trace_id"], 16), parent_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return otel_trace.set_span_in_context(NonRecordingSpan(parent))


def _is_hex(value: Any, width: int) -> bool:
    return isinstance(value, str) and len(value) == width and all(c in "0123456789abcdef" for c in value) and int(value, 16) != 0
