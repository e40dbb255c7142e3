"""The one path data takes: finished spans -> records -> sink, with every drop counted.

Session events (a session's start and end, feedback) ride the same queue and
sink, redacted the same way, so they reach the destination after the records
they refer to.
"""

from __future__ import annotations

import logging
import time
from itertools import groupby
from typing import Any, Callable, Iterable, Protocol, Sequence

import orjson
from opentelemetry.sdk.trace import ReadableSpan

from .._alerts import Alerts, load_alerts
from .._audit import AuditTrail, SpanStart
from .._config import Settings
from .._destinations._http_sink import HTTPSink
from .._destinations._spool import open_spool
from .._destinations._store import SQLiteStore
from .._drops import Stats, drop_reason
from .._finished_span import FinishedSpan
from .._guard import each_guarded, guarded, internal_errors, warn_once
from .._pii import PIIRedactor
from .._pii._prefilter import available as prefilter_available
from .._pii._records import redact_record
from .._scope._sessions import SessionEvent
from .._scoring import Scorer
from .._scoring._events import EvaluationEvents
from .._time import rfc3339
from ._mapping import CONTENT_ATTRIBUTES, REDACTED, span_to_record
from ._pricing import load_prices
from ._record import InvalidRecord, record_problem
from ._size_budget import fit_record

_logger = logging.getLogger(__name__)
_SCORE = guarded("anomaly scoring")
_ALERTS = guarded("alerts")
KEEP_BASELINES_EVERY = 256  # records scored between two saves of the baselines,
KEEP_BASELINES_SECONDS = 5.0  # and at most one save in this long (serve scores 256 records in a few milliseconds)
_BASELINE = "anomaly-baseline:"  # + project: a kept state's name

# Session event fields that can hold what users typed.
_FREE_TEXT_FIELDS = ("comment", "name", "data", "metadata")


class Sink(Protocol):
    def write(self, records: Sequence[dict[str, Any]]) -> object: ...

    def write_events(self, events: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


def make_sink(settings: Settings, count: Callable[[str, int], None]) -> Sink:
    """The AITracer API with a key, else the in-cluster serve inside Kubernetes, else the local store."""
    url = settings.base_url if settings.api_key else settings.cluster_endpoint
    if url:
        return HTTPSink(url, settings.api_key, open_spool(url, settings.api_key or ""), count, settings.sync)
    return SQLiteStore(settings.store, lazy=True)


def make_redactor(settings: Settings) -> PIIRedactor | None:
    """The redactor ``settings`` ask for; ``None`` when PII detection is off."""
    if not settings.pii_detection:
        return None
    return PIIRedactor(types=settings.pii_types, action=settings.pii_action)


class RecordPipeline:
    """Maps spans to records and hands them to the sink in one batch."""

    def __init__(
        self, settings: Settings, sink: Sink | None = None, redactor: PIIRedactor | None = None, evaluation_events: bool = False
    ) -> None:
        """``evaluation_events``: the spans are ours (in process), so each score is also an evaluation event on its span."""
        self.settings = settings
        self.redactor = redactor if redactor is not None else make_redactor(settings)
        _load_on_this_thread(self.redactor)
        self.stats = Stats()
        self.sink: Sink = sink if sink is not None else make_sink(settings, self.stats.add)
        self.audit = _audit_trail(settings, self.redactor, self.stats.add)
        self.scorer = Scorer(settings.anomaly_thresholds)
        self._evaluations = EvaluationEvents() if evaluation_events else None
        self._scored_since_kept, self._kept_at = 0, float("-inf")
        self.alerts = Alerts(load_alerts(settings.alerts)) if settings.alerts is not None else None
        with _SCORE:
            self._load_baselines()

    def process(self, items: Iterable[ReadableSpan | SessionEvent | SpanStart]) -> bool:
        """Write the records of the spans and the session events, in the order given; False if the sink failed.
        Span starts (queued only when the audit trail is on) go to the audit trail."""
        ok = True
        for kind, run in groupby(items, key=_kind):
            if kind is SessionEvent:
                events = [e for item in run if isinstance(item, SessionEvent) and (e := self.prepare_event(item.as_dict())) is not None]
                ok = self._write(self._write_events, events, "session_events", "session events") and ok
            elif kind is SpanStart:
                for item in run:
                    if self.audit is not None and isinstance(item, SpanStart):
                        self.audit.started(item)
            else:
                records = [r for item in run if isinstance(item, ReadableSpan) and (r := self._valid_record(item)) is not None]
                self.score(records)
                ok = self._write(self.sink.write, records, "written", "records") and ok
        if self.audit is not None:
            self.audit.write()
        return ok

    def _valid_record(self, span: ReadableSpan) -> dict[str, Any] | None:
        try:
            return self.record(span)
        except InvalidRecord:  # counted by record()
            return None

    def record(self, span: FinishedSpan) -> dict[str, Any] | None:
        """The span's record, redacted and within budget; None for a span that is no LLM step or could not be mapped.

        Raises :class:`InvalidRecord` (counted ``invalid_record``) for a span that can never be stored, so a
        server can tell its sender why."""
        try:
            record = span_to_record(span, default_project=self.settings.project, capture_content=self.settings.capture_content)
        except InvalidRecord as exc:
            self._invalid(format(span.context.span_id, "016x") if span.context else None, str(exc))
            raise
        except Exception:  # noqa: BLE001 - one bad span must not lose the batch
            _logger.warning("could not map span %r; dropped", getattr(span, "name", "?"), exc_info=True)
            self.stats.add("mapping_error")
            return None
        if self.audit is not None:
            self.audit.ended(span, record)  # before redaction: the decision records hash what the model saw
        return None if record is None else self.prepare(record)

    def prepare(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Check, redact and fit ``record`` to the byte budget, in place; None (counted) if it cannot be redacted.

        Raises :class:`InvalidRecord` (counted) when it can never be stored: its fields are checked first; content
        nested past what JSON encodes is found by redaction's walk or by the encoder."""
        problem = record_problem(record)
        if problem is not None:
            self._invalid(record.get("span_id"), problem)
            raise InvalidRecord(problem)
        if self.redactor is not None:
            try:
                redact_record(record, self.redactor)
            except RecursionError:  # content nested hundreds of levels deep: no store could take it anyway
                problem = "its content is nested too deep to encode as JSON"
                self._invalid(record.get("span_id"), problem)
                raise InvalidRecord(problem) from None
            except Exception:  # noqa: BLE001 - a record that could not be redacted never leaves
                _logger.warning("could not redact the record of span %r; dropped", record.get("span_id"), exc_info=True)
                self.stats.add("redaction_error")
                return None
        try:
            if fit_record(record, self.settings.max_record_bytes):
                self.stats.add("truncated")
        except InvalidRecord as exc:
            self._invalid(record.get("span_id"), str(exc))
            raise
        return record

    def score(self, records: Sequence[dict[str, Any]], keep: bool = True) -> None:
        """Anomaly scores, on records whose project and content are final (redacted): :meth:`judge`, then :meth:`count`.
        Then, unless ``keep`` is False, :meth:`keep_baselines_when_due`."""
        self.judge(records)
        self.count(records)
        if keep:
            self.keep_baselines_when_due()

    def judge(self, records: Sequence[dict[str, Any]]) -> None:
        """Each record's anomaly score and codes, against the baselines as they stand (they do not change); a failure
        costs only the score. Serve judges a request's records before its write transaction, which then only counts."""
        each_guarded(_SCORE.site, self.scorer.judge, records)

    def count(self, records: Sequence[dict[str, Any]]) -> None:
        """The judged calls join their projects' baselines and the alert windows, and become evaluation events: once
        per call (a stored call written again, merged, is judged again but not counted again)."""
        each_guarded(_SCORE.site, self._count_one, records)
        if self.alerts is not None and records:
            with _ALERTS:
                self.alerts.observe(list(records))
        self._scored_since_kept += len(records)

    def _count_one(self, record: dict[str, Any]) -> None:
        self.scorer.learn(record)
        if self._evaluations is not None:
            self._evaluations.emit(record)

    def keep_baselines_when_due(self) -> None:
        """Every :data:`KEEP_BASELINES_EVERY` records scored (at most once in :data:`KEEP_BASELINES_SECONDS`), keep the
        baselines that changed in the store (if it is one)."""
        if self._scored_since_kept >= KEEP_BASELINES_EVERY and time.monotonic() - self._kept_at >= KEEP_BASELINES_SECONDS:
            self.keep_baselines()

    def settle(self, deadline: float) -> None:
        """Before the process ends: deliver the queued alerts (within 5 s and ``deadline``). The baselines are not
        kept here: a store locked elsewhere would hold the exit past its budget (they were kept every 256 records)."""
        if self.alerts is not None:
            self.alerts.close(max(0.0, min(5.0, deadline - time.monotonic())))

    def keep_baselines(self) -> None:
        """Keep the changed project baselines in the store, so a restart does not start them over."""
        self._scored_since_kept, self._kept_at = 0, time.monotonic()
        save = getattr(self.sink, "save_state", None)
        if save is None:
            return
        with _SCORE:
            changed = self.scorer.baselines.take_changed()
            if changed:
                save({_BASELINE + project: orjson.dumps(state) for project, state in changed.items()}, rfc3339())

    def _load_baselines(self) -> None:
        load = getattr(self.sink, "load_state", None)
        if load is not None:
            self.scorer.baselines.load({name[len(_BASELINE) :]: orjson.loads(blob) for name, blob in load(_BASELINE).items()})

    def _invalid(self, span_id: Any, problem: str) -> None:
        _warn_drop("invalid_record", f"the record of span {span_id} cannot be stored: {problem}")
        self.stats.add("invalid_record")

    def prepare_event(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """A session event's wire form, with what users typed redacted (or withheld without content capture)."""
        for name in ("comment", "data"):
            if not self.settings.capture_content and event.get(name) is not None:
                event[name] = None if name == "comment" else REDACTED
        return self._redacted(event, _FREE_TEXT_FIELDS, f"a {event.get('type')} event")

    def prepare_log_event(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """An OTLP log event about a call (``name``, ``time``, ``attributes``, ``body``) redacted like the call's content,
        or withheld without content capture; None (counted) if it cannot be redacted."""
        if not self.settings.capture_content:
            event["body"] = None if event.get("body") is None else REDACTED
            event["attributes"] = {k: v for k, v in (event.get("attributes") or {}).items() if k not in CONTENT_ATTRIBUTES}
        return self._redacted(event, ("attributes", "body"), f"a {event.get('name')} log event")

    def _redacted(self, event: dict[str, Any], fields: Sequence[str], what: str) -> dict[str, Any] | None:
        """``event`` with ``fields`` redacted in place; None (counted) when redaction fails: never kept unredacted."""
        if self.redactor is None:
            return event
        try:
            for name in fields:
                if event.get(name) is not None and event[name] != REDACTED:
                    event[name] = self.redactor.redact_value(event[name])
        except Exception:  # noqa: BLE001 - never sent unredacted
            _logger.warning("could not redact %s; dropped", what, exc_info=True)
            self.stats.add("redaction_error")
            return None
        return event

    def _write_events(self, events: Sequence[dict[str, Any]]) -> None:
        write = getattr(self.sink, "write_events", None)
        if write is None:  # a custom sink that only takes records
            raise TypeError(f"{type(self.sink).__name__} has no write_events()")
        write(events)

    def _write(self, write: Any, items: list[dict[str, Any]], counter: str, what: str) -> bool:
        """Write ``items``; when the batch fails, write them one by one, so a bad one costs only itself."""
        if not items:
            return True
        try:
            write(items)
        except Exception as exc:  # noqa: BLE001 - a sink failure is counted, never raised into the app
            reason = drop_reason(exc)
            if len(items) > 1 and reason == "sink_error":
                return all([self._write(write, [item], counter, what) for item in items])
            _warn_drop(reason, f"could not write {len(items)} {what} to the {self.settings.destination}: {exc!r}")
            self.stats.add(reason, len(items))
            return False
        self.stats.add(counter, len(items))
        return True

    def stats_snapshot(self) -> dict[str, Any]:
        """What ``stats()`` shows: counts, what waits in the spool, alerts sent and failed, and our own failures by site."""
        snapshot = {**self.stats.snapshot(), "pending": self.pending(), "internal_errors": internal_errors()}
        if self.alerts is not None:
            snapshot["alerts"] = dict(self.alerts.delivery.counts)
        return snapshot

    def flush(self, timeout: float) -> bool:
        """Deliver what the sink holds (the API's spool), within ``timeout``."""
        flush = getattr(self.sink, "flush", None)
        return True if flush is None else bool(flush(timeout))

    def pending(self) -> int:
        """Items waiting in the sink's spool (0 for a local store; -1 when the spool cannot be read)."""
        spool = getattr(self.sink, "spool", None)
        if spool is None:
            return 0
        with guarded("spool"):
            return spool.pending()[1]
        return -1

    def close(self, deadline: float) -> None:
        """Close the sink by ``deadline`` (``time.monotonic()``); an API sink leaves what it could not send spooled."""
        self.settle(deadline)
        if isinstance(self.sink, (HTTPSink, SQLiteStore)):
            self.sink.close(deadline)
        else:
            self.sink.close()


def _load_on_this_thread(redactor: PIIRedactor | None) -> None:
    """What the worker will need, imported now, on the thread that makes the pipeline (the app's, at start-up): the
    worker thread imports nothing, so an app thread never meets a module half imported by it (see ``load_prices``)."""
    load_prices()
    if redactor is not None:
        prefilter_available()  # imports Hyperscan and compiles the default types' database


def _kind(item: object) -> type:
    return SessionEvent if isinstance(item, SessionEvent) else SpanStart if isinstance(item, SpanStart) else ReadableSpan


def _audit_trail(settings: Settings, redactor: PIIRedactor | None, count: Callable[[str, int], None]) -> AuditTrail | None:
    if settings.decision_log is None and settings.jsonl_mirror is None:
        return None
    redact = redactor.redact_value if redactor is not None else None
    return AuditTrail(settings.decision_log, settings.jsonl_mirror, redact, count, settings.store_raw_prompt, settings.store_raw_response)


def _warn_drop(reason: str, message: str) -> None:
    """A WARNING the first time records are dropped for ``reason``; ``stats()`` counts every one."""
    warn_once(("drop", reason), "otel-aitracer: %s; dropped (%s; later drops are counted in stats(), not logged)", message, reason)

