"""The GenAI log events our instrumentors emit: ``gen_ai.client.operation.exception`` for a failed call."""

from __future__ import annotations

from typing import Any, Mapping

from opentelemetry import _logs, trace
from opentelemetry.semconv.attributes import error_attributes, exception_attributes
from opentelemetry.trace import Span

from ._metrics import METRIC_KEYS

EXCEPTION_EVENT = "gen_ai.client.operation.exception"


class GenAIEvents:
    """Log events on one logger (the global logger provider's unless ``instrument(logger_provider=...)``)."""

    __slots__ = ("_logger",)

    def __init__(self, logger_provider: _logs.LoggerProvider | None, scope: str, version: str) -> None:
        self._logger = _logs.get_logger(scope, version, logger_provider)

    def exception(self, span: Span, kind: str, message: str, attributes: Mapping[str, Any]) -> None:
        """The conventions' exception event (severity WARN) in the failed call's span context: ``kind`` is the
        exception's type (or the error code the API reported in-band)."""
        labels = {k: attributes[k] for k in METRIC_KEYS if k in attributes}
        labels.update({error_attributes.ERROR_TYPE: kind, exception_attributes.EXCEPTION_TYPE: kind, exception_attributes.EXCEPTION_MESSAGE: message})
        self._logger.emit(event_name=EXCEPTION_EVENT, severity_number=_logs.SeverityNumber.WARN, severity_text="WARN",
                          context=trace.set_span_in_context(span), attributes=labels)  # fmt: skip
