"""OTLP/HTTP trace requests (protobuf or JSON) -> :class:`WireSpan` objects for ``span_to_record``.

OTLP JSON writes trace and span ids as hex, but protobuf's JSON parser reads
``bytes`` fields as base64 and would silently turn a 32-hex trace id into 24
wrong bytes; ids are therefore converted (and checked) before parsing.
Unknown fields are ignored, as the OTLP spec requires.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Iterator

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.trace import Event
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

from .._attributes import PROJECT_ATTRIBUTE
from ._body import BodyError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_LENGTHS = {"traceId": 16, "trace_id": 16, "spanId": 8, "span_id": 8, "parentSpanId": 8, "parent_span_id": 8}
_STATUS = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}
_PLAIN_STATUS = {code: Status(status_code) for code, status_code in _STATUS.items()}  # Status objects are immutable
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_FLAGS = {0: TraceFlags(0), 1: _SAMPLED}
_NO_TRACE, _NO_SPAN = bytes(16), bytes(8)


def parse_request(body: bytes, content_type: str, message: type[Message] = ExportTraceServiceRequest) -> Any:
    """The ``message`` (a trace request by default) in ``content_type`` (protobuf or JSON); :class:`BodyError` 400 when it
    does not decode."""
    request = message()
    try:
        if content_type == PROTOBUF:
            request.ParseFromString(body)
        else:
            document = orjson.loads(body) if body.strip() else {}
            json_format.ParseDict(_hex_ids_to_base64(document), request, ignore_unknown_fields=True)
    except (DecodeError, orjson.JSONDecodeError, json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise BodyError(400, f"not an OTLP {message.DESCRIPTOR.name}: {exc}") from None
    return request


def _hex_ids_to_base64(node: Any) -> Any:
    """Rewrite every OTLP id (hex in OTLP JSON) as the base64 protobuf's parser expects; 400 for a bad id."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_LENGTHS and isinstance(value, str) and value != "":
                out[key] = _hex_id(key, value)
            else:
                out[key] = _hex_ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


def _hex_id(key: str, value: str) -> str:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise BodyError(400, f"{key} {value[:40]!r} is not hex (OTLP JSON ids are hex, not base64)") from None
    if len(raw) != _ID_LENGTHS[key]:
        raise BodyError(400, f"{key} must be {_ID_LENGTHS[key] * 2} hex digits, got {len(value)}")
    return base64.b64encode(raw).decode()


def span_count(request: ExportTraceServiceRequest) -> int:
    """How many spans a request holds (checked against the server's cap before any span is read)."""
    return sum(len(scope_spans.spans) for resource_spans in request.resource_spans for scope_spans in resource_spans.scope_spans)


@dataclass(slots=True)
class WireSpan:
    """A span as OTLP carried it, with what ``span_to_record``, deduplication and the audit trail read of a span (the
    SDK's ``ReadableSpan`` has the same names): plain attributes, as serve makes thousands a second, where a
    ``ReadableSpan`` wraps its attributes in a new read-only view on each read."""

    name: str
    context: SpanContext
    parent: SpanContext | None
    attributes: dict[str, Any]
    events: tuple[Event, ...]
    status: Status
    start_time: int | None
    end_time: int | None


def spans(request: ExportTraceServiceRequest) -> Iterator[WireSpan | str]:
    """Each span, or a string saying why it was rejected (a bad id)."""
    for resource_spans in request.resource_spans:
        project = attributes(resource_spans.resource.attributes).get(PROJECT_ATTRIBUTE)  # a service may name its project on the resource
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield _span(span, project)


def _span(span: Any, project: Any) -> WireSpan | str:
    raw_trace, raw_span, raw_parent = span.trace_id, span.span_id, span.parent_span_id  # each read of a field costs a call
    if len(raw_trace) != 16 or len(raw_span) != 8 or raw_trace == _NO_TRACE or raw_span == _NO_SPAN:
        return f"span {span.name!r}: trace_id must be 16 bytes and span_id 8 bytes, not all zero"
    if raw_parent and len(raw_parent) != 8:
        return f"span {span.name!r}: parent_span_id must be 8 bytes"
    trace_id = int.from_bytes(raw_trace, "big")
    raw_flags = span.flags
    flags = _FLAGS.get(raw_flags & 0xFF) or TraceFlags(raw_flags & 0xFF) if raw_flags else _SAMPLED
    attrs = attributes(span.attributes)
    if project is not None and PROJECT_ATTRIBUTE not in attrs:
        attrs[PROJECT_ATTRIBUTE] = project
    events = span.events
    return WireSpan(
        span.name,
        SpanContext(trace_id, int.from_bytes(raw_span, "big"), True, flags),
        SpanContext(trace_id, int.from_bytes(raw_parent, "big"), True, flags) if raw_parent else None,
        attrs,
        tuple(Event(e.name, attributes(e.attributes), e.time_unix_nano or None) for e in events) if events else (),
        _status(span.status),
        span.start_time_unix_nano or None,
        span.end_time_unix_nano or None,
    )


def _status(status: Any) -> Status:
    code, message = status.code, status.message
    if not message and code in _PLAIN_STATUS:
        return _PLAIN_STATUS[code]
    return Status(_STATUS.get(code, StatusCode.UNSET), message or None)


def attributes(pairs: Any) -> dict[str, Any]:
    """OTLP key-values as a dict. Most values are non-empty strings, read with one call (each call into a protobuf
    message costs, and a request holds thousands of attributes)."""
    out = {}
    for kv in pairs:
        value = kv.value
        text = value.string_value
        if text:
            out[kv.key] = text
            continue
        kind = value.WhichOneof("value")
        out[kv.key] = value.int_value if kind == "int_value" else value_of(value, kind)
    return out


def value_of(value: AnyValue, kind: str | None = None) -> Any:
    kind = kind or value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(value_of(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def response_message(rejected: int, message: str, answer: Any = None, rejected_field: str = "rejected_spans") -> Any:
    """An OTLP export response (``ExportTraceServiceResponse`` by default) with ``partial_success`` only when
    items were rejected or there is a warning."""
    answer = ExportTraceServiceResponse() if answer is None else answer
    if rejected or message:
        setattr(answer.partial_success, rejected_field, rejected)
        answer.partial_success.error_message = message
    return answer


def response(rejected: int, message: str, content_type: str) -> bytes:
    """The response body in the request's content type."""
    return encoded(response_message(rejected, message), content_type)


def encoded(answer: Message, content_type: str) -> bytes:
    """An OTLP response message in the request's content type."""
    if content_type == PROTOBUF:
        return answer.SerializeToString()
    return orjson.dumps(json_format.MessageToDict(answer))  # no ids in a response: MessageToDict is safe here


def status_body(code: int, message: str, content_type: str) -> bytes:
    """A ``google.rpc.Status`` error body in the request's content type."""
    from google.rpc import status_pb2

    if content_type == PROTOBUF:
        return status_pb2.Status(code=code, message=message).SerializeToString()
    return orjson.dumps({"code": code, "message": message})
