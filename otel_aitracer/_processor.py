"""``AITracerSpanProcessor`` and ``AITracerSpanExporter``: the two ways spans enter the pipeline."""

from __future__ import annotations

import atexit
import logging
import os
import time
import weakref
from typing import Any, Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from . import _conventions as conv
from ._batching import BatchWorker
from ._config import Settings, resolve_settings
from ._context import current_attributes, current_run, current_session
from ._mapping import STEP_INDEX, STEP_NAME
from ._pii import PIIRedactor
from ._pipeline import RecordPipeline, Sink
from ._sessions import SessionEvent

_logger = logging.getLogger(__name__)
_EXIT_FLUSH_SECONDS = 2.0


def _inherit_conversation(span: Span, parent_context: Context | None) -> None:
    """A conversation id (an agent run's ``group_id``) reaches every span of the run, so records of
    model calls made inside it carry the run's session too."""
    parent_attributes = getattr(trace.get_current_span(parent_context), "attributes", None)
    if parent_attributes:
        conversation = parent_attributes.get(GenAI.GEN_AI_CONVERSATION_ID)
        if conversation is not None and GenAI.GEN_AI_CONVERSATION_ID not in span.attributes:
            span.set_attribute(GenAI.GEN_AI_CONVERSATION_ID, conversation)


_LLM_OPERATIONS = frozenset(
    m.value for m in (GenAI.GenAiOperationNameValues.CHAT, GenAI.GenAiOperationNameValues.GENERATE_CONTENT,
                      GenAI.GenAiOperationNameValues.TEXT_COMPLETION, GenAI.GenAiOperationNameValues.EMBEDDINGS)
)  # fmt: skip


# The calls a user gives feedback on: those that answer (not embeddings, tools or agents).
_RESPONSE_OPERATIONS = _LLM_OPERATIONS - {GenAI.GenAiOperationNameValues.EMBEDDINGS.value}


def _mark_last_response(span: Span) -> None:
    """Inside ``session()``, this call becomes the response the session's feedback is about."""
    handle = current_session()
    if handle is not None and span.attributes.get(GenAI.GEN_AI_OPERATION_NAME) in _RESPONSE_OPERATIONS:
        handle.last_log_id = format(span.get_span_context().span_id, "016x")


def _number_step(span: Span) -> None:
    """Inside ``run()``, each LLM call is the run's next step (unless something already numbered it)."""
    state = current_run()
    if state is None:
        return
    attributes = span.attributes
    if attributes.get(GenAI.GEN_AI_OPERATION_NAME) in _LLM_OPERATIONS and STEP_INDEX not in attributes:
        index, name = state.take_step()
        span.set_attributes({STEP_INDEX: index, STEP_NAME: name})


class AITracerSpanProcessor(SpanProcessor):
    """Stamps session/user/project onto spans and turns finished GenAI spans into records.

    ``on_end`` only queues the span; a background thread maps, prices and writes
    records in batches (``sync=True`` writes before ``on_end`` returns, for
    serverless). Nothing here raises into the application.

    Args mirror :func:`otel_aitracer.register`; each falls back to its
    ``AITRACER_*`` environment variable.
    """

    def __init__(
        self,
        project: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        store: str | os.PathLike[str] | None = None,
        pii_detection: bool | None = None,
        pii_action: str | None = None,
        pii_types: list[str] | None = None,
        capture_content: bool | None = None,
        sync: bool = False,
        environment: str | None = None,
        *,
        max_queue_size: int = 4096,
        max_batch_size: int = 256,
        schedule_delay: float = 1.0,
        sink: Sink | None = None,
        redactor: PIIRedactor | None = None,
        flush_on_exit: bool = True,
    ) -> None:
        self.settings: Settings = resolve_settings(
            project, api_key, base_url, store, capture_content, sync, environment, pii_detection, pii_action, pii_types
        )
        self._pipeline = RecordPipeline(self.settings, sink, redactor)
        self._worker: BatchWorker[ReadableSpan | SessionEvent] | None = None
        if not self.settings.sync:
            self._worker = BatchWorker(self._pipeline.process, self._pipeline.stats.add, max_queue_size, max_batch_size, schedule_delay)
        self._shut_down = False
        if flush_on_exit:  # within a 2 s budget; what the API has not taken stays in the spool
            weak_shutdown = weakref.WeakMethod(self._exit)
            atexit.register(lambda: (m := weak_shutdown()) is not None and m())

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            stamped = current_attributes()
            if stamped:
                existing = span.attributes
                span.set_attributes({k: v for k, v in stamped.items() if k not in existing})
            _inherit_conversation(span, parent_context)
            _number_step(span)
            _mark_last_response(span)
        except Exception:  # noqa: BLE001
            _logger.debug("could not stamp context onto span", exc_info=True)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if conv.operation(span.attributes or {}) is not None:
                self._submit(span)
        except Exception:  # noqa: BLE001
            _logger.debug("on_end failed", exc_info=True)

    def submit_session_event(self, event: SessionEvent) -> None:
        """Queue a session's start, end, feedback or event behind the records already queued."""
        try:
            if event.project is None:
                event.project = self.settings.project
            self._submit(event)
        except Exception:  # noqa: BLE001
            _logger.debug("submit_session_event failed", exc_info=True)

    def _submit(self, item: ReadableSpan | SessionEvent) -> None:
        if self._worker is not None:
            self._worker.put(item)
        elif self._shut_down:
            self._pipeline.stats.add("shutdown")
        else:
            self._pipeline.process((item,))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Write what is queued, then deliver what the API sink has spooled; False if ``timeout_millis`` ran out."""
        deadline = time.monotonic() + timeout_millis / 1000
        if self._worker is not None and not self._worker.flush(timeout_millis / 1000):
            return False
        return self._pipeline.flush(max(0.0, deadline - time.monotonic()))

    def shutdown(self, timeout: float = 30.0) -> None:
        """Write what is queued (within ``timeout``), then send for at most 2 s; the rest stays spooled."""
        if self._shut_down:
            return
        self._shut_down = True
        deadline = time.monotonic() + timeout
        if self._worker is not None:
            self._worker.shutdown(timeout)
        self._pipeline.close(max(0.0, min(_EXIT_FLUSH_SECONDS, deadline - time.monotonic())))

    def _exit(self) -> None:
        self.shutdown(_EXIT_FLUSH_SECONDS)

    def stats(self) -> dict[str, Any]:
        """Records written, sent and still spooled (``pending``), and what was dropped, by reason."""
        return {**self._pipeline.stats.snapshot(), "pending": self._pipeline.pending()}


class AITracerSpanExporter(SpanExporter):
    """A ``SpanExporter`` writing AITracer records: use it behind ``BatchSpanProcessor``,
    or with ``OTEL_TRACES_EXPORTER=aitracer``. Options as :class:`AITracerSpanProcessor`."""

    def __init__(
        self,
        project: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        store: str | os.PathLike[str] | None = None,
        pii_detection: bool | None = None,
        pii_action: str | None = None,
        pii_types: list[str] | None = None,
        capture_content: bool | None = None,
        environment: str | None = None,
        *,
        sink: Sink | None = None,
        redactor: PIIRedactor | None = None,
    ) -> None:
        self.settings = resolve_settings(project, api_key, base_url, store, capture_content, False, environment, pii_detection, pii_action, pii_types)
        self._pipeline = RecordPipeline(self.settings, sink, redactor)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = self._pipeline.process(spans)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._pipeline.close(_EXIT_FLUSH_SECONDS)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._pipeline.flush(timeout_millis / 1000)

    def stats(self) -> dict[str, Any]:
        return {**self._pipeline.stats.snapshot(), "pending": self._pipeline.pending()}
