"""Settling: what a write transaction reads and changes of the stored records of a batch's traces before it writes the
batch (a span sent again, the other half of a call, a stream's request, events waiting for their record)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Callable, Sequence

import orjson

from ._records_table import ONE_RECORD, Key, Transaction, delete_records

_NO_OUTPUT = (None, {"redacted": True})

InTraces = Callable[[Transaction, str, set[str], str, str | None], list[tuple[Any, ...]]]
# Settling looks for what is stored of a batch's traces from this many days before the batch's earliest start: a call
# and its outer call, a stream and its request, a span and its resend start seconds apart. The bound keeps a batch's
# reads (on PostgreSQL, the days' partitions it reads and locks) to two days, however many days are stored.
SETTLE_DAYS_BEFORE = 1


def settle_since(records: Sequence[dict[str, Any]]) -> str | None:
    """The day (``YYYY-MM-DD``) from which settling ``records`` looks: :data:`SETTLE_DAYS_BEFORE` before the earliest
    start; None (no bound) when no start is a date."""
    try:
        first = date.fromisoformat(min(r["started_at"] for r in records if isinstance(r.get("started_at"), str))[:10])
    except ValueError:  # no start, or not a date
        return None
    return (first - timedelta(days=SETTLE_DAYS_BEFORE)).isoformat()


# What deduplication matches on, and the start: a delete that names it reads one day (PostgreSQL: one partition).
_CALL_COLUMNS = ("project", "trace_id", "span_id", "parent_span_id", "operation", "started_at")
_SPAN_AT, _PARENT_AT = _CALL_COLUMNS.index("span_id"), _CALL_COLUMNS.index("parent_span_id")


class StoredTraces:
    """What is stored of some traces, read and changed within one write transaction (:meth:`RecordsDB.settling`):
    what ingest's deduplication asks before a batch is written. One per batch: the stored records of its traces are
    read once, and read again only after it removes some (a batch written before it in the transaction is seen)."""

    def __init__(self, tx: Transaction, in_traces: InTraces, since: str | None = None) -> None:
        """``since``: a day (:func:`settle_since`); only records started from it are looked at (None: all)."""
        self.tx = tx
        self._in_traces = in_traces
        self._since = since
        self._read: tuple[set[str], list[tuple[Any, ...]]] | None = None  # traces read, and their records' _CALL_COLUMNS

    def stored(self, keys: Sequence[Key]) -> set[Key]:
        """Which of ``keys`` are stored (a span sent again: the insert would skip it)."""
        wanted = set(keys)
        return {key for key in ((p, t, s) for p, t, s, *_ in self._records_of({key[1] for key in keys})) if key in wanted}

    def pop_children(self, keys: Sequence[tuple[str, str, str, str]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Remove and return the stored direct children of the same project and operation of ``(project, trace_id,
        span_id, operation)`` (inner calls stored before their outer one), by the parent's (project, span id)."""
        popped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for parent, record in self._pop(_PARENT_AT, keys):
            popped.setdefault(parent, []).append(record)
        return popped

    def pop_calls(self, keys: Sequence[tuple[str, str, str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Remove and return the stored records of ``(project, trace_id, span_id, operation)`` (outer duplicates),
        by (project, span id)."""
        return dict(self._pop(_SPAN_AT, keys))

    def _pop(self, matched_at: int, keys: Sequence[tuple[str, str, str, str]]) -> list[tuple[tuple[str, str], dict[str, Any]]]:
        """Remove the stored records whose (project, trace_id, the id at ``matched_at``, operation) is one of ``keys``;
        each with its (project, that id)."""
        wanted = set(keys)
        found = [row for row in self._records_of({key[1] for key in keys}) if (row[0], row[1], row[matched_at], row[4]) in wanted]
        popped = []
        for row in found:
            for (blob,) in delete_records(self.tx, ONE_RECORD, (row[1], row[2], row[0], row[5]), returning=("record",))[:1]:
                popped.append(((row[0], row[matched_at]), orjson.loads(blob)))
        if found:
            self._read = None  # removed: read again
        return popped

    def _records_of(self, traces: set[str]) -> list[tuple[Any, ...]]:
        """:data:`_CALL_COLUMNS` of the stored records of ``traces``, read once for the batch."""
        if self._read is None or not traces <= self._read[0]:
            self._read = (traces, self._in_traces(self.tx, ", ".join(_CALL_COLUMNS), traces, "records", self._since))
        return self._read[1]

    def pop_stream_request(self, log: dict[str, Any]) -> dict[str, Any] | None:
        """Remove and return the stored request of a streamed call whose result ``log`` carries:
        the latest sibling of the same operation, started no later (and, as all settling, from its day on), with no
        output yet."""
        sql = (
            "SELECT span_id, started_at, record FROM records WHERE trace_id = ? AND project = ? AND operation = ? AND started_at <= ?"
            " AND started_at >= ? AND span_id != ? AND (parent_span_id = ? OR (parent_span_id IS NULL AND CAST(? AS TEXT) IS NULL))"
            " ORDER BY started_at DESC LIMIT 8"
        )
        parent, since = log.get("parent_span_id"), self._since or ""  # "": no bound
        for span_id, started_at, blob in self.tx.rows(sql, (log["trace_id"], log["project"], log.get("operation"), log["started_at"], since, log["span_id"], parent, parent)):
            record = orjson.loads(blob)
            if record.get("output") in _NO_OUTPUT and not record.get("output_tokens"):
                delete_records(self.tx, ONE_RECORD, (log["trace_id"], span_id, log["project"], started_at))
                self._read = None
                return record
        return None

    def take_pending(self, keys: Sequence[Key]) -> dict[Key, list[dict[str, Any]]]:
        """Remove and return the pending events of records about to be written, by key. With none pending at all (no
        OTLP logs, or all joined), no trace is looked up: events for these traces are added under their traces' hold,
        which this transaction has, so none can arrive before it ends."""
        if not keys or not self.tx.rows("SELECT 1 FROM pending_events LIMIT 1"):
            return {}
        wanted = set(keys)
        taken: dict[Key, list[dict[str, Any]]] = {}
        ids = []
        for row_id, project, trace_id, span_id, blob in self._in_traces(self.tx, "id, project, trace_id, span_id, event", {k[1] for k in keys}, "pending_events", None):
            if (project, trace_id, span_id) in wanted:
                taken.setdefault((project, trace_id, span_id), []).append(orjson.loads(blob))
                ids.append((row_id,))
        if ids:
            self.tx.many("DELETE FROM pending_events WHERE id = ?", ids)
        return taken


Settle = Callable[[StoredTraces], Sequence[list[Any]]]  # the rows to write (record_row), given what is stored of their traces
