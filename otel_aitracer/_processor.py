"""``AITracerSpanProcessor`` and ``AITracerSpanExporter``: the two ways spans enter the pipeline."""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._audit import SpanStart
from ._config import Settings, resolve_settings
from ._guard import guarded
from ._lifecycle import EXIT_BUDGET_SECONDS, at_exit, exit_deadline
from ._pii import PIIRedactor
from ._recording import _conventions as conv
from ._recording._batching import BatchWorker
from ._recording._pipeline import RecordPipeline, Sink
from ._scope._sessions import SessionEvent
from ._scope._stamping import ScopeSpanProcessor, install_stamping, operation_at_start

_ON_START = guarded("on_start")
_ON_END = guarded("on_end")
_SUBMIT = guarded("submit_session_event")
_FLUSH = guarded("force_flush")
_SHUTDOWN = guarded("shutdown")


class AITracerSpanProcessor(ScopeSpanProcessor):
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
        decision_log: str | os.PathLike[str] | None = None,
        jsonl_mirror: str | os.PathLike[str] | None = None,
        store_raw_prompt: bool = False,
        store_raw_response: bool = False,
        alerts: str | os.PathLike[str] | None = None,
    ) -> None:
        self.settings: Settings = resolve_settings(
            project, api_key, base_url, store, capture_content, sync, environment, pii_detection, pii_action, pii_types,
            decision_log=decision_log, jsonl_mirror=jsonl_mirror, store_raw_prompt=store_raw_prompt, store_raw_response=store_raw_response,
            alerts=alerts,
        )  # fmt: skip
        self._pipeline = RecordPipeline(self.settings, sink, redactor, evaluation_events=True)
        self._audited = self.settings.decision_log is not None or self.settings.jsonl_mirror is not None
        self._worker: BatchWorker[ReadableSpan | SessionEvent | SpanStart] | None = None
        if not self.settings.sync:
            self._worker = BatchWorker(self._pipeline.process, self._pipeline.stats.add, max_queue_size, max_batch_size, schedule_delay)
        self._shut_down = False
        if flush_on_exit:  # within a 2 s budget; what the API has not taken stays in the spool
            at_exit(self._exit)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        super().on_start(span, parent_context)
        if self._audited:  # the audit trail sees runs start (its workflow's name, the mirror's start lines)
            with _ON_START:
                operation = conv.operation(span.attributes or {}) or operation_at_start(span)
                if operation is not None:
                    self._submit(SpanStart.of(span, operation))

    def on_end(self, span: ReadableSpan) -> None:
        with _ON_END:
            if conv.operation(span.attributes or {}) is not None:
                self._submit(span)

    def submit_session_event(self, event: SessionEvent) -> None:
        """Queue a session's start, end, feedback or event behind the records already queued."""
        with _SUBMIT:
            if event.project is None:
                event.project = self.settings.project
            self._submit(event)

    def _submit(self, item: ReadableSpan | SessionEvent | SpanStart) -> None:
        if self._worker is not None:
            self._worker.put(item)
        elif self._shut_down:
            self._pipeline.stats.add("shutdown")
        else:
            self._pipeline.process((item,))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Write what is queued, then deliver what the API sink has spooled; False if ``timeout_millis`` ran out."""
        with _FLUSH:
            deadline = time.monotonic() + timeout_millis / 1000
            if self._worker is not None and not self._worker.flush(timeout_millis / 1000):
                return False
            return self._pipeline.flush(max(0.0, deadline - time.monotonic()))
        return False

    def shutdown(self, timeout: float | None = None) -> None:
        """Write what is queued, then send what is spooled, within ``timeout`` (default: the 2 s exit budget,
        shared with every other shutdown at interpreter exit); what is left stays spooled."""
        if self._shut_down:
            return
        self._shut_down = True
        with _SHUTDOWN:
            deadline = exit_deadline(EXIT_BUDGET_SECONDS if timeout is None else timeout)
            if self._worker is not None:
                self._worker.shutdown(max(0.0, deadline - time.monotonic()))
            self._pipeline.close(deadline)

    def _exit(self) -> None:
        self.shutdown()

    def stats(self) -> dict[str, Any]:
        """Records written, sent and still spooled (``pending``), what was dropped by reason, and internal errors by site."""
        return self._pipeline.stats_snapshot()


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
        self._pipeline = RecordPipeline(self.settings, sink, redactor, evaluation_events=True)
        self._stamping = install_stamping()  # scope stamping on the (global) provider these spans come from

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with guarded("export"):
            if not self._stamping:  # the app set its global provider after creating this exporter
                self._stamping = install_stamping()
            ok = self._pipeline.process(spans)
            return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        with _SHUTDOWN:
            self._pipeline.close(exit_deadline(EXIT_BUDGET_SECONDS))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        with _FLUSH:
            return self._pipeline.flush(timeout_millis / 1000)
        return False

    def stats(self) -> dict[str, Any]:
        return self._pipeline.stats_snapshot()
