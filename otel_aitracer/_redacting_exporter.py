"""``RedactingSpanExporter``: any exporter (OTLP, console, …) receives redacted copies of spans.

Finished spans are immutable (the SDK freezes their attributes before
``on_end``), and other processors may still read the originals, so redaction
builds copies: attributes, event and link attributes, the status description and
the span name. If a copy cannot be made, the batch fails instead of leaving raw.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.attributes.openai_attributes import (
    OPENAI_API_TYPE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
)
from opentelemetry.semconv.attributes.server_attributes import SERVER_PORT
from opentelemetry.trace import Link, Status

from ._attributes import PROJECT_ATTRIBUTE
from ._guard import guarded
from ._pii import PIIRedactor, is_secret_key

_logger = logging.getLogger(__name__)
_REDACT = guarded("redacting_exporter")

# Identifiers and enums set by instrumentations, never user content: not scanned.
_NOT_CONTENT = frozenset(
    {
        GenAI.GEN_AI_OPERATION_NAME, GenAI.GEN_AI_PROVIDER_NAME, GenAI.GEN_AI_SYSTEM, GenAI.GEN_AI_REQUEST_MODEL,
        GenAI.GEN_AI_RESPONSE_MODEL, GenAI.GEN_AI_RESPONSE_ID, GenAI.GEN_AI_RESPONSE_FINISH_REASONS, GenAI.GEN_AI_OUTPUT_TYPE,
        GenAI.GEN_AI_TOOL_CALL_ID, GenAI.GEN_AI_TOOL_TYPE, OPENAI_API_TYPE, PROJECT_ATTRIBUTE, ERROR_TYPE, SERVER_PORT,
        HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE,
    }
)  # fmt: skip


class RedactingSpanExporter(SpanExporter):
    """Wraps ``inner`` so that what it exports has PII redacted by ``redactor`` (default: all types, mask)."""

    def __init__(self, inner: SpanExporter, redactor: PIIRedactor | None = None) -> None:
        self._inner = inner
        self._redactor = redactor if redactor is not None else PIIRedactor()
        self._resources: dict[int, tuple[Resource, Resource]] = {}  # a provider's one resource is redacted once

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        copies = None
        with _REDACT:  # never hand the raw spans on instead
            copies = [redact_span(span, self._redactor, self._resources) for span in spans]
        if copies is None:
            return SpanExportResult.FAILURE
        return self._inner.export(copies)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def redact_span(span: ReadableSpan, redactor: PIIRedactor, resources: dict[int, tuple[Resource, Resource]] | None = None) -> ReadableSpan:
    """A copy of ``span`` with PII redacted from its name, attributes, events, links, status and resource."""
    status = span.status
    if status.description:
        status = Status(status.status_code, redactor.redact(status.description))
    return ReadableSpan(
        name=redactor.redact(span.name),
        context=span.context,
        parent=span.parent,
        resource=_redacted_resource(span.resource, redactor, {} if resources is None else resources),
        attributes=redact_attributes(span.attributes, redactor),
        events=[Event(e.name, redact_attributes(e.attributes, redactor), e.timestamp) for e in span.events],
        links=[Link(link.context, redact_attributes(link.attributes, redactor)) for link in span.links],
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _redacted_resource(resource: Resource, redactor: PIIRedactor, cache: dict[int, tuple[Resource, Resource]]) -> Resource:
    known = cache.get(id(resource))
    if known is not None and known[0] is resource:
        return known[1]
    redacted = Resource(redact_attributes(resource.attributes, redactor), resource.schema_url)
    if len(cache) > 64:  # resources are few; a process that makes many gets no cache rather than a leak
        cache.clear()
    cache[id(resource)] = (resource, redacted)
    return redacted


def redact_attributes(attributes: Mapping[str, Any] | None, redactor: PIIRedactor) -> dict[str, Any]:
    return {key: _attribute(key, value, redactor) for key, value in (attributes or {}).items()}


def _attribute(key: str, value: Any, redactor: PIIRedactor) -> Any:
    if key in _NOT_CONTENT:
        return value
    if is_secret_key(key) or isinstance(value, (str, list, tuple)):
        redacted = redactor.redact_value({key: value})[key]
        return tuple(redacted) if isinstance(value, (list, tuple)) else redacted
    return value
