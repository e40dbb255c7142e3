"""The one way every instrumentor starts, fills, ends and fails a GenAI span.

Provider modules translate SDK arguments and responses into attribute dicts;
everything about the span's life (kind, name, current context, error
recording, content capture switch) lives here so the providers agree.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

_logger = logging.getLogger(__name__)

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# util-genai's documented modes, plus the boolean spellings the older
# instrumentations accepted (users still have them in their environments).
_CAPTURE_ON = {"span_only", "span_and_event", "event_only", "true", "1", "yes"}
_CAPTURE_OFF = {"no_content", "false", "0", "no", "none", ""}


def capture_content_enabled(explicit: bool | None = None) -> bool:
    """Whether message content goes on spans: ``explicit`` wins over the env var."""
    if explicit is not None:
        return bool(explicit)
    raw = os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower()
    if raw in _CAPTURE_ON:
        return True
    if raw not in _CAPTURE_OFF:
        _logger.warning("%s=%r is not a known mode; content is not captured", CAPTURE_CONTENT_ENV, raw)
    return False


def to_json(value: Any) -> str:
    """Compact JSON for a content attribute; anything unknown becomes its str()."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def error_type(exc: BaseException) -> str:
    return type(exc).__qualname__


class LLMCall:
    """One instrumented call: its span, made current while the SDK runs."""

    __slots__ = ("span", "_token")

    def __init__(self, tracer: Tracer, operation: str, model: str | None, attributes: Mapping[str, Any]) -> None:
        name = f"{operation} {model}" if model else operation
        self.span: Span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        self._token: object | None = None

    def activate(self) -> None:
        """Make the span current so transport spans (httpx) nest under it."""
        self._token = otel_context.attach(trace.set_span_in_context(self.span))

    def deactivate(self) -> None:
        if self._token is not None:
            otel_context.detach(self._token)
            self._token = None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self.span.is_recording():
            self.span.set_attributes({k: v for k, v in attributes.items() if v is not None})

    def end(self) -> None:
        self.span.end()

    def fail(self, exc: BaseException) -> None:
        """Record ``exc`` as the call's failure and end the span."""
        self.span.set_attribute(error_attributes.ERROR_TYPE, error_type(exc))
        self.span.record_exception(exc)
        self.span.set_status(Status(StatusCode.ERROR, str(exc) or error_type(exc)))
        self.span.end()


def usage_attributes(input_tokens: Any, output_tokens: Any, cache_read: Any = None, reasoning: Any = None) -> dict[str, Any]:
    """Token counts as semconv attributes, skipping what the provider did not report."""
    attrs = {
        GenAI.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
        GenAI.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: cache_read or None,
        GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: reasoning or None,
    }
    return {k: v for k, v in attrs.items() if isinstance(v, int)}
