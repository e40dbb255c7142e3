"""What the server does with what it receives: the same mapping, redaction and budget as in-process,
then deduplication, the project check, and the store.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from .._attributes import PROJECT_ATTRIBUTE
from .._destinations._records_db import RecordsDB, StoredTraces
from .._drops import DropError
from .._recording._pipeline import RecordPipeline
from .._recording._record import InvalidRecord
from .._time import rfc3339
from ._auth import Grant
from ._dedupe import against_store, drop_outer_duplicates
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
        self._store(records, grant, outcome)
        return outcome

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
        self._store(records, grant, outcome)
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

    def _owned(self, record: dict[str, Any], span: ReadableSpan, grant: Grant) -> dict[str, Any]:
        if grant.default_project and not (span.attributes or {}).get(PROJECT_ATTRIBUTE):
            record["project"] = grant.default_project
        return record

    def _store(self, records: list[dict[str, Any]], grant: Grant, outcome: Outcome) -> None:
        refused = sorted({r["project"] for r in records if not grant.allows(r["project"])})
        if refused:
            raise Forbidden(f"this key may not write to project(s) {', '.join(map(repr, refused))}")
        given, unique = len(records), list({_key(r): r for r in reversed(records)}.values())[::-1]  # a span twice: the first
        settled: list[dict[str, Any]] = []
        dropped = 0

        def settle(stored: StoredTraces) -> list[dict[str, Any]]:
            """Deduplicate against the store, score, join waiting events: inside the transaction that writes."""
            nonlocal settled, dropped
            settled, dropped = against_store(stored, unique)
            self.pipeline.score(settled, keep=False)  # keeping the baselines is a write of its own: after this one
            by_key = {_key(r): r for r in settled}
            for key, events in stored.take_pending(list(by_key)).items():
                self.join(by_key[key], events)
            return settled

        added = self.store.write(unique, settle) if unique else 0
        self.pipeline.keep_baselines_when_due()
        outcome.accepted += added
        outcome.duplicates += (given - len(unique)) + dropped + len(settled) - added


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
