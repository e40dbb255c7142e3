"""The records table, whatever the engine: its columns, a record as a row, its indexes and key, and the one way rows
are deleted (the rollups lose what they counted, in the same transaction)."""

from __future__ import annotations

import operator
from typing import Any, Callable, Iterator, Protocol, Sequence

import orjson

from ._rollups import ROLLED, Delta, Sums

COLUMNS = (
    "span_id", "trace_id", "parent_span_id", "project", "session_id", "app_user_id", "model", "provider",
    "operation", "status", "started_at", "latency_ms", "input_tokens", "output_tokens", "cost", "anomaly_score", "anomaly_codes",
    "request_model",
)  # fmt: skip


# Columns added after the records table first shipped, with their SQL type: a store that predates them gets them.
ADDED_COLUMNS = {"anomaly_score": "BIGINT", "anomaly_codes": "TEXT", "request_model": "TEXT"}


def record_row(record: dict[str, Any]) -> list[Any]:
    """A record's :data:`COLUMNS` and the record itself, as a row."""
    get = record.get
    row = [get(column) for column in COLUMNS]
    codes = row[_CODES_AT]
    row[_CODES_AT] = ",".join(map(str, codes)) if isinstance(codes, list) else None  # a column LIKE can search
    row.append(orjson.dumps(record))
    return row


_CODES_AT = COLUMNS.index("anomaly_codes")
# Indexes older stores have that were replaced (records_anomaly: every record by score; records_scored holds only the
# few scored above 0, and spares every other insert that index): dropped on open, like the others made.
RETIRED_INDEXES = ("records_anomaly",)
INDEXES = (
    *(f"DROP INDEX IF EXISTS {name}" for name in RETIRED_INDEXES),
    "CREATE INDEX IF NOT EXISTS records_project_time ON records (project, started_at)",
    "CREATE INDEX IF NOT EXISTS records_session ON records (session_id)",
    "CREATE INDEX IF NOT EXISTS records_user ON records (app_user_id)",
    "CREATE INDEX IF NOT EXISTS records_time ON records (started_at)",
    "CREATE INDEX IF NOT EXISTS records_scored ON records (project, anomaly_score) WHERE anomaly_score > 0",
    "CREATE INDEX IF NOT EXISTS session_events_session ON session_events (session_id)",
    "CREATE INDEX IF NOT EXISTS session_events_log ON session_events (log_id)",
    "CREATE INDEX IF NOT EXISTS pending_events_span ON pending_events (trace_id, span_id)",
    "CREATE INDEX IF NOT EXISTS pending_events_time ON pending_events (received_at)",
)
# Only a repeated (trace id, span id, project) is skipped; any other constraint failure fails the batch loudly.
# One unique index serves deduplication and trace lookups: random keys are what make inserts slow.
INSERT = (
    f"INSERT INTO records ({', '.join(COLUMNS)}, record) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"
    " ON CONFLICT (trace_id, span_id, project) DO NOTHING"
)
Key = tuple[str, str, str]  # a record's identity: project, trace_id, span_id
KEY_MATCH = "trace_id = ? AND span_id = ? AND project = ?"  # a record's key
ONE_RECORD = f"{KEY_MATCH} AND started_at = ?"  # a stored record, by its key and start (PostgreSQL: its day)


class Transaction(Protocol):
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int: ...

    def add_sums(self, sums: Sums, rows: Sequence[Sequence[Any]]) -> None:
        """Add ``rows`` (keys, then sums; one row per key) to the sums of ``sums``' table, in one go."""
        ...

    def each(self, sql: str, params: Sequence[Any] = (), size: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of ``sql`` a chunk at a time, never all in memory."""
        ...


rolled_of_row: Callable[[Sequence[Any]], tuple[Any, ...]] = operator.itemgetter(*(COLUMNS.index(c) for c in ROLLED))  # type: ignore[assignment]
"""The :data:`ROLLED` columns of a row of :data:`COLUMNS`."""


def delete_records(tx: Transaction, where: str, params: Sequence[Any], returning: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """The one way records are deleted: the rollups lose what the rows counted, in the same transaction.
    Returns the ``returning`` columns of each deleted row."""
    rows = tx.rows(f"DELETE FROM records WHERE {where} RETURNING {', '.join((*returning, *ROLLED))}", params)
    delta = Delta()
    delta.add((row[len(returning) :] for row in rows), -1)
    delta.apply(tx)
    return [row[: len(returning)] for row in rows]
