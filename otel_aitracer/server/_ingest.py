"""What the server does with what it receives: the same mapping, redaction and budget as in-process,
then deduplication, the project check, and the store.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

from .._attributes import PROJECT_ATTRIBUTE
from .._destinations._records_db import RecordsDB
from .._destinations._records_table import record_row
from .._destinations._settling import StoredTraces
from .._drops import DropError
from .._finished_span import FinishedSpan
from .._recording._pipeline import RecordPipeline
from .._recording._record import InvalidRecord
from .._time import rfc3339
from ._auth import Grant
from ._dedupe import STREAM_LOG, against_store, drop_outer_duplicates
from ._logs import join_events, log_events
from ._otlp import spans as otlp_spans


def _store_errors() -> tuple[type[BaseException], ...]:
    """What a store that cannot take a write raises: answered with 503, so senders retry."""
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, DropError)
    try:
        import psycopg
    except ImportError:
        return errors
    return (*errors, psycopg.Error)


STORE_ERRORS = _store_errors()


class Forbidden(Exception):
    """The key may not write to a project the request names."""


@dataclass
class Outcome:
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, why: str) -> None:
        self.rejected += 1
        self.errors.append(why)

    def message(self) -> str:
        return "; ".join(self.errors[:5])


class Ingest:
    def __init__(self, store: RecordsDB, pipeline: RecordPipeline) -> None:
        self.store = store
        self.pipeline = pipeline
        self.join = join_events(pipeline.settings.max_record_bytes)

    def logs(self, request: Any, grant: Grant) -> Outcome:
        """Log records about spans -> events on those spans' records (now, or when the record arrives)."""
        outcome = Outcome()
        events: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        unattached = 0
        for item in log_events(request):
            if item is None:
                unattached += 1
                continue
            if isinstance(item, str):
                outcome.reject(item)
                continue
            project = item.project or grant.default_project or self.pipeline.settings.project
            if not grant.allows(project):
                raise Forbidden(f"this key may not write to project {project!r}")
            event = self.pipeline.prepare_log_event(item.event)
            if event is None:
                outcome.reject("a log record could not be redacted")
                continue
            events.setdefault((project, item.trace_id, item.span_id), []).append(event)
        joined, pending = self.store.attach_events(events, self.join, rfc3339()) if events else (0, 0)
        outcome.accepted = joined + pending
        if unattached:
            outcome.errors.append(f"{unattached} log records had no span context and were not kept (serve stores events of LLM calls)")
        return outcome

    def otlp(self, request: Any, grant: Grant) -> Outcome:
        """Spans of an OTLP request -> stored records; spans that are no LLM step are not records, not rejections."""
        [answer] = self.otlp_together([(request, grant)])
        if isinstance(answer, Forbidden):
            raise answer
        return answer

    def otlp_together(self, requests: Sequence[tuple[Any, Grant]]) -> list[Outcome | Forbidden]:
        """Several OTLP requests, each mapped as :meth:`otlp` maps one, stored in one transaction in which each is
        settled in turn (as if written one after the other): one commit, and the rollups of all added at once. A request
        naming a project its key may not write gets its :class:`Forbidden`; the others are stored."""
        answers: list[Outcome | Forbidden] = []
        batches = []
        for request, grant in requests:
            outcome, records = self._otlp_records(request, grant)
            try:
                batches.append(_Batch(self, records, grant, outcome))
            except Forbidden as exc:
                answers.append(exc)
                continue
            answers.append(outcome)
        self._write(batches)
        return answers

    def _otlp_records(self, request: Any, grant: Grant) -> tuple[Outcome, list[dict[str, Any]]]:
        outcome, records, kept_spans = Outcome(), [], []
        for span in otlp_spans(request):
            if isinstance(span, str):
                outcome.reject(span)
                continue
            kept_spans.append(span)
            try:
                record = self.pipeline.record(span)
            except InvalidRecord as exc:
                outcome.reject(f"span {span.name[:80]!r}: {exc}")
                continue
            if record is not None:
                records.append(self._owned(record, span, grant))
        records, dropped = drop_outer_duplicates(kept_spans, records)
        outcome.duplicates += dropped
        return outcome, records

    def native(self, entries: list[Any], grant: Grant) -> Outcome:
        """AITracer records (``POST /api/v1/logs/batch/``), checked field by field; a bad one is rejected alone."""
        outcome, records = Outcome(), []
        for n, entry in enumerate(entries):
            problem = _native_problem(entry)
            if problem:
                outcome.reject(f"logs[{n}]: {problem}")
                continue
            try:
                prepared = self.pipeline.prepare(_completed(dict(entry), grant))
            except InvalidRecord as exc:
                outcome.reject(f"logs[{n}]: {exc}")
                continue
            if prepared is None:
                outcome.reject(f"logs[{n}]: could not be redacted")
            else:
                records.append(prepared)
        self._write([_Batch(self, records, grant, outcome)])
        return outcome

    def events(self, events: list[dict[str, Any]], grant: Grant) -> int:
        prepared = []
        for event in events:
            event["project"] = event.get("project") or grant.default_project or self.pipeline.settings.project
            if not grant.allows(event["project"]):
                raise Forbidden(f"this key may not write to project {event['project']!r}")
            ready = self.pipeline.prepare_event(event)
            if ready is not None:
                prepared.append(ready)
        self.store.write_events(prepared)
        return len(prepared)

    def _owned(self, record: dict[str, Any], span: FinishedSpan, grant: Grant) -> dict[str, Any]:
        if grant.default_project and not (span.attributes or {}).get(PROJECT_ATTRIBUTE):
            record["project"] = grant.default_project
        return record

    def _write(self, batches: list[_Batch]) -> None:
        """Store the batches' records in one transaction (each settled in turn), then keep the baselines if due."""
        written = [batch for batch in batches if batch.unique]
        added = self.store.write_settled([(batch.unique, batch.settle) for batch in written]) if written else []
        for batch, count in zip(written, added):
            batch.written(count)
        self.pipeline.keep_baselines_when_due()  # a write of its own: after the records'


class _Batch:
    """One request's records on their way to the store. Judged and made into rows first; then, inside the transaction
    that writes them (another worker cannot store half of a call in between), deduplicated against the store and joined
    to their waiting events (what settling changes is judged and made again there); once it commits, counted into the
    baselines (a write that fails counts nothing, so the exporter's retry counts once)."""

    def __init__(self, ingest: Ingest, records: list[dict[str, Any]], grant: Grant, outcome: Outcome) -> None:
        refused = sorted({r["project"] for r in records if not grant.allows(r["project"])})
        if refused:
            raise Forbidden(f"this key may not write to project(s) {', '.join(map(repr, refused))}")
        self.unique = list({_key(r): r for r in reversed(records)}.values())[::-1]  # a span twice: the first
        self.outcome = outcome
        outcome.duplicates += len(records) - len(self.unique)
        self._pipeline, self._join = ingest.pipeline, ingest.join
        self._pipeline.judge(self.unique)  # outside the transaction: it holds the store's write lock
        self._rows = {id(record): record_row(record) for record in self.unique if STREAM_LOG not in record}  # settling removes that mark
        self._settled: list[dict[str, Any]] = []
        self._new_calls: list[dict[str, Any]] = []

    def settle(self, stored: StoredTraces) -> list[list[Any]]:
        """The rows to insert: the records deduplicated against what is stored, counted, with their waiting events."""
        folded = against_store(stored, self.unique)
        self._settled = folded.kept
        self.outcome.duplicates += folded.dropped
        changed = {id(record) for record in (*folded.restored, *folded.merged)}
        self._pipeline.judge([*folded.restored, *folded.merged])  # what they say changed with the merge
        restored = {id(record) for record in folded.restored}  # counted when first stored: not again
        self._new_calls = [r for r in folded.kept if id(r) not in restored]
        by_key = {_key(r): r for r in folded.kept}
        for key, events in stored.take_pending(list(by_key)).items():
            self._join(by_key[key], events)
            changed.add(id(by_key[key]))
        return [(None if id(r) in changed else self._rows.get(id(r))) or record_row(r) for r in folded.kept]

    def written(self, added: int) -> None:
        """After the commit: the answer's counts, and the new calls join their baselines (outside the write lock)."""
        self.outcome.accepted += added
        self.outcome.duplicates += len(self._settled) - added
        self._pipeline.count(self._new_calls)


def _key(record: dict[str, Any]) -> tuple[str, str, str]:
    return record["project"], record["trace_id"], record["span_id"]


def _native_problem(entry: Any) -> str | None:
    """What a native record must be before it is completed (the pipeline checks the rest): an object with its model."""
    if not isinstance(entry, dict):
        return "a record must be a JSON object"
    if not isinstance(entry.get("model"), str) or not entry["model"]:
        return "model is required (a non-empty string)"
    return None


def _completed(record: dict[str, Any], grant: Grant) -> dict[str, Any]:
    """Fill what the store needs and the AITracer SDK may leave out."""
    record["project"] = record.get("project") or grant.default_project or "default"
    record.setdefault("provider", "other")
    record["span_id"] = record.get("span_id") or uuid.uuid4().hex[:16]
    record["trace_id"] = record.get("trace_id") or record["span_id"]
    record["started_at"] = record.get("started_at") or rfc3339()
    record.setdefault("status", "success")
    record.setdefault("metadata", {})
    for key in ("input_tokens", "output_tokens", "latency_ms"):
        record.setdefault(key, 0)
    return record
