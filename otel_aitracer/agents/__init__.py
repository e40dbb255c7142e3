"""The OpenAI Agents SDK bridge: every agent run as nested GenAI spans, and so as AITracer records.

    import otel_aitracer
    otel_aitracer.register()                   # bridges openai-agents when it is installed
    # or, on its own:
    otel_aitracer.register_agents_tracing()   # keeps the SDK's OpenAI upload unless replace_default=True
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.trace import TracerProvider

from ._bridge import Bridge

_logger = logging.getLogger(__name__)

try:
    from agents.tracing import TracingProcessor as _Base
except ImportError:  # the SDK is optional; the class still exists for isinstance checks and docs
    _Base = object  # type: ignore[assignment,misc]


def _openai_instrumented() -> bool:
    """Whether our OpenAI instrumentor makes the model calls' spans (then the bridge does not)."""
    try:
        from instrumentors.openai import OpenAIInstrumentor
    except ImportError:
        return False
    return bool(OpenAIInstrumentor().is_instrumented_by_opentelemetry)


class AITracerTracingProcessor(_Base):  # type: ignore[misc,valid-type]
    """An ``agents.tracing.TracingProcessor`` that turns the SDK's traces and spans into OTel GenAI spans:
    the trace → ``invoke_workflow``, agent → ``invoke_agent``, function → ``execute_tool``,
    generation/response → ``chat`` (only when no provider instrumentor of ours traces the call),
    handoff / guardrail / custom / task / turn → INTERNAL spans with their data.

    Every method swallows its own errors: tracing never breaks a run.
    """

    def __init__(self, tracer_provider: TracerProvider | None = None, capture_content: bool = True) -> None:
        self._bridge = Bridge(tracer_provider, capture_content, lambda: not _openai_instrumented())
        self._shut = False

    def on_trace_start(self, trace: Any) -> None:
        self._safely(self._bridge.trace_start, trace)

    def on_trace_end(self, trace: Any) -> None:
        self._safely(self._bridge.trace_end, trace)

    def on_span_start(self, span: Any) -> None:
        self._safely(self._bridge.span_start, span)

    def on_span_end(self, span: Any) -> None:
        self._safely(self._bridge.span_end, span)

    def shutdown(self, timeout: float | None = None) -> None:
        if not self._shut:
            self._shut = True
            self._safely(self._bridge.close_all)

    def force_flush(self) -> None:
        from .._scope._current import current_pipeline

        pipeline = current_pipeline()
        if pipeline is not None:
            self._safely(pipeline.flush)

    @staticmethod
    def _safely(method: Any, *args: Any) -> None:
        try:
            method(*args)
        except Exception:  # noqa: BLE001
            _logger.debug("agents bridge: %s failed", getattr(method, "__name__", method), exc_info=True)


__all__ = ["AITracerTracingProcessor"]
