"""What a records database does, whatever the engine: ``SQLiteStore`` and ``PostgresStore`` share it.

Records are one row each (the full record as JSON, plus the columns the CLI and the
server filter on), unique by ``(trace_id, span_id, project)`` so a repeated span is skipped
and no project's ids can collide with another's;
sessions and their feedback and events have tables of their own. SQL is written
once with ``?`` placeholders; an engine supplies transactions that run it. The records table
itself (columns, rows, key, deletes) is :mod:`._records_table`; what a write reads of a batch's
traces before it writes is :mod:`._settling`.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Callable, Collection, Iterator, Sequence

import orjson

from .._record_kinds import MODEL_CALLS
from ._filters import STATS_ORDERS, Cursor, filter_values
from ._records_table import KEY_MATCH, ONE_RECORD, Key, Transaction, delete_records, record_row
from ._rollups import DIMENSIONS, ROLLED, ROLLUPS_VERSION, Delta, rank_value
from ._settling import Settle, StoredTraces, settle_since

# A session entered again (one per request, say) keeps its first start and its latest end.
_SESSION_START = (
    "INSERT INTO sessions (project, session_id, app_user_id, metadata, started_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (project, session_id) DO UPDATE SET app_user_id = COALESCE(excluded.app_user_id, sessions.app_user_id)"
)
_SESSION_END = (
    "INSERT INTO sessions (project, session_id, metadata, started_at, ended_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (project, session_id) DO UPDATE SET metadata = excluded.metadata, ended_at = excluded.ended_at"
)
_SAVE_STATE = "INSERT INTO kept_state (name, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
_EVENT = "INSERT INTO session_events (project, session_id, type, log_id, created_at, event) VALUES (?, ?, ?, ?, ?, ?)"


_MODEL_CALLS = sorted(MODEL_CALLS)
Join = Callable[[dict[str, Any], list[dict[str, Any]]], None]  # adds log events to a record
_PENDING = "INSERT INTO pending_events (project, trace_id, span_id, received_at, event) VALUES (?, ?, ?, ?, ?)"
_ORDER = "started_at, trace_id, span_id, project"


def _where(projects: Sequence[str] | None, filters: dict[str, str | None]) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if projects is not None:
        clauses.append(f"project IN ({', '.join('?' * len(projects))})" if projects else "1 = 0")
        params.extend(projects)
    for clause, values in filter_values(filters).values():
        clauses.append(clause)
        params.extend(values)
    return clauses, params


def _clause(where: list[str]) -> str:
    return " WHERE " + " AND ".join(where) if where else ""


_ROLLED = ", ".join(ROLLED)


def rebuild_rollups(tx: Transaction) -> None:
    """Count every stored record into empty rollups: a store written before they existed, or counted otherwise."""
    tx.many("DELETE FROM rollup_totals", [()])
    tx.many("DELETE FROM rollup_latency", [()])
    delta = Delta()
    for chunk in tx.each(f"SELECT {_ROLLED} FROM records"):
        delta.add(chunk)
    delta.apply(tx)
    tx.many(_SAVE_STATE, [(_ROLLUPS_STATE, str(ROLLUPS_VERSION).encode(), "")])


_ROLLUPS_STATE = "rollups-version"


def rollups_current(tx: Transaction) -> bool:
    """Whether the rollups were counted as this version counts them (else :func:`rebuild_rollups`)."""
    kept = tx.rows("SELECT state FROM kept_state WHERE name = ?", (_ROLLUPS_STATE,))
    return bool(kept) and bytes(kept[0][0]) == str(ROLLUPS_VERSION).encode()


class RecordsDB:
    """The queries; subclasses provide ``_transaction()`` (and ``_read()`` for reads)."""

    def _transaction(self) -> AbstractContextManager[Transaction]:
        raise NotImplementedError

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._transaction() as tx:
            return tx.rows(sql, params)

    # ---- records ----------------------------------------------------------------------------------
    def write(self, records: Sequence[dict[str, Any]], settle: Callable[[StoredTraces], Sequence[dict[str, Any]]] | None = None) -> int:
        """Insert ``records`` in one transaction, counting the new ones into the rollups; returns how many were new
        (a known span is skipped). ``settle``, given what is stored of the records' traces within the same transaction,
        returns the records to insert."""
        return self.write_settled([(records, lambda stored: [record_row(r) for r in (settle(stored) if settle else records)])])[0]

    def write_settled(self, batches: Sequence[tuple[Sequence[dict[str, Any]], Settle]]) -> list[int]:
        """Several batches (records, and how to settle them into rows) in one transaction, each settled and inserted in
        turn, so a batch's settling sees the batches before it, as if each were written alone; their rollups are added
        once. How many records each batch added. (Ingest makes most rows before the transaction: it holds the store's
        write lock, and every microsecond in it is one the other workers may wait.)"""
        with self.settling({r["trace_id"] for records, _ in batches for r in records}) as stored:
            delta, added = Delta(), []
            for records, settle in batches:  # each sees what is stored, the batches before it included
                batch_stored = StoredTraces(stored.tx, self._in_traces, settle_since(records))
                added.append(delta.add(self._insert(stored.tx, list(settle(batch_stored)))))
            delta.apply(stored.tx)
        return added

    @contextmanager
    def settling(self, traces: Collection[str]) -> Iterator[StoredTraces]:
        """A write transaction in which no other can add to ``traces`` until it ends, with what is stored of them: what
        one batch finds of a trace (an outer call, its inner call, a stream's request) cannot change before it writes."""
        with self._transaction() as tx:
            self._hold_traces(tx, traces)
            yield StoredTraces(tx, self._in_traces)

    def _hold_traces(self, tx: Transaction, traces: Collection[str]) -> None:
        """Keep other writers of ``traces`` waiting until ``tx`` ends (SQLite: its write lock already keeps every writer)."""

    # ---- what the pipeline keeps between runs (the anomaly baselines) ------------------------------
    def save_state(self, states: dict[str, bytes], at: str) -> None:
        """Keep each named state (replacing what was kept under that name)."""
        with self._transaction() as tx:
            tx.many(_SAVE_STATE, [(name, blob, at) for name, blob in states.items()])

    def load_state(self, prefix: str) -> dict[str, bytes]:
        """The states kept under names that start with ``prefix``."""
        return {row[0]: bytes(row[1]) for row in self._read("SELECT name, state FROM kept_state WHERE name LIKE ?", (prefix + "%",))}

    def _insert(self, tx: Transaction, rows: list[list[Any]]) -> list[tuple[Any, ...]]:
        """Insert ``rows`` (:data:`COLUMNS` and the record) within ``tx``, skipping known keys; the :data:`ROLLED`
        columns of the rows inserted."""
        raise NotImplementedError

    def query(
        self, limit: int | None = None, newest_first: bool = True, projects: Sequence[str] | None = None, order: str = "time", **filters: str | None
    ) -> list[dict[str, Any]]:
        """Records matching ``filters`` (keys of :data:`FILTERS`) in ``projects`` (all if None), newest first by default."""
        blobs, _ = self.page(limit, newest_first, projects, None, order, **filters)
        return [orjson.loads(blob) for blob in blobs]

    def page(
        self, limit: int | None, newest_first: bool = True, projects: Sequence[str] | None = None, after: Cursor | None = None,
        order: str = "time", **filters: str | None,
    ) -> tuple[list[bytes], Cursor | None]:  # fmt: skip
        """Up to ``limit`` records as stored (JSON bytes, not decoded) after ``after``, and the cursor of the last one.

        Keyset paging on the record's order, so a reader walks any number of records a page at a time; ordered by
        ``anomaly`` (highest score first), one page and no cursor."""
        where, params = _where(projects, filters)
        if order == "anomaly":
            sql = f"SELECT record FROM records{_clause(where)} ORDER BY COALESCE(anomaly_score, -1) DESC, started_at DESC"
            rows = self._read(sql + (" LIMIT ?" if limit is not None else ""), [*params, *([int(limit)] if limit is not None else [])])
            return [bytes(row[0]) for row in rows], None
        if after is not None:
            where.append(f"({_ORDER}) {'<' if newest_first else '>'} (?, ?, ?, ?)")
            params.extend(after)
        direction = "DESC" if newest_first else "ASC"
        sql = f"SELECT record, {_ORDER} FROM records{_clause(where)} ORDER BY " + ", ".join(f"{c} {direction}" for c in _ORDER.split(", "))
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        rows = self._read(sql, params)
        return [bytes(row[0]) for row in rows], (tuple(rows[-1][1:]) if rows else None)  # type: ignore[return-value]

    def run_totals(self, trace_ids: Sequence[str], projects: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """Per trace: its records, failed records, cost, anomaly points, first start and last end (the key's index finds
        each trace's rows)."""
        if not trace_ids:
            return {}
        where, params = _where(projects, {})
        where.append(f"trace_id IN ({', '.join('?' * len(trace_ids))})")
        params.extend(trace_ids)
        sql = (f"SELECT trace_id, COUNT(*), SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END), SUM(cost), SUM(COALESCE(anomaly_score, 0)),"
               f" MIN(started_at) FROM records{_clause(where)} GROUP BY trace_id")  # fmt: skip
        keys = ("records", "errors", "cost", "anomaly_points", "started_at")
        return {row[0]: dict(zip(keys, (int(row[1]), int(row[2] or 0), row[3], int(row[4] or 0), row[5]))) for row in self._read(sql, params)}

    def stats(
        self, by: str, projects: Sequence[str] | None = None, limit: int = 100, project: str | None = None, order: str = "requests"
    ) -> list[dict[str, Any]]:
        """Requests, tokens, cost, errors, critical records and latency percentiles per value of column ``by``
        (``project`` or one of :data:`DIMENSIONS`), the ``limit`` groups first by ``order`` (``requests`` or
        ``critical``), in ``projects`` (all if None) or ``project``: read from the rollups, so the answer costs the
        groups, never the records."""
        if order not in STATS_ORDERS:
            raise ValueError(f"stats can be sorted by {' or '.join(STATS_ORDERS)}, not {order!r}")
        if by not in ("project", *DIMENSIONS):
            raise ValueError(f"stats cannot group by {by!r}")
        group = "project" if by == "project" else "value, missing"
        chosen = "project, 0" if by == "project" else group  # a group's value and whether it is missing
        where, params = _where(projects, {"project": project})
        where.insert(0, "dimension = ?")
        params.insert(0, "model" if by == "project" else by)  # a project's totals are its models' totals
        totals = self._read(
            f"SELECT {chosen}, SUM(requests), SUM(errors), SUM(input_tokens), SUM(output_tokens), SUM(cost), SUM(priced), SUM(critical), SUM(other)"
            f" FROM rollup_totals{_clause(where)} GROUP BY {group} HAVING SUM(requests) > 0 ORDER BY SUM({order}) DESC, SUM(requests) DESC, {group} LIMIT ?",
            [*params, limit],
        )  # fmt: skip
        histograms: dict[tuple[Any, int], list[tuple[int, int]]] = {}
        named = sorted({row[0] for row in totals})
        if named:
            within = f"{group.split(',')[0]} IN ({', '.join('?' * len(named))})"
            sql = (f"SELECT {chosen}, bucket, SUM(requests) FROM rollup_latency{_clause([*where, within])}"
                   f" GROUP BY {group}, bucket HAVING SUM(requests) > 0 ORDER BY {group}, bucket")  # fmt: skip
            for value, missing, bucket, count in self._read(sql, [*params, *named]):
                histograms.setdefault((value, int(missing)), []).append((int(bucket), int(count)))
        rows = []
        for value, missing, requests, errors, input_tokens, output_tokens, cost, priced, critical, other in totals:
            histogram = histograms.get((value, int(missing)), [])
            rows.append({"group": None if missing else value, "requests": int(requests), "input_tokens": int(input_tokens),
                         "output_tokens": int(output_tokens), "cost": round(float(cost), 9) if priced else None, "errors": int(errors),
                         "critical": int(critical), "other_records": int(other), "p50_latency_ms": rank_value(histogram, 50), "p95_latency_ms": rank_value(histogram, 95)})  # fmt: skip
        return rows

    _ROW_ID = "rowid"  # the engine's physical row id (its columns), for deletes in small batches
    PRUNE_BATCH = 500  # rows per delete: each is one short transaction, so ingest never waits long

    def prune(self, cutoff: str, project: str | None = None, exclude: Sequence[str] = (), pause: float = 0.005) -> int:
        """Delete records started before ``cutoff`` (RFC 3339), of ``project`` or of every project but ``exclude``,
        a small batch per transaction with a pause between; also sessions and events that old. Returns records deleted."""
        where, params = ["started_at < ?"], [cutoff]
        if project is not None:
            where.append("project = ?")
            params.append(project)
        if exclude:
            where.append(f"project NOT IN ({', '.join('?' * len(exclude))})")
            params.extend(exclude)
        deleted = self._delete_in_batches("records", where, params, pause)
        for table, column in (("session_events", "created_at"), ("sessions", "started_at"), ("pending_events", "received_at")):
            self._delete_in_batches(table, [where[0].replace("started_at", column), *where[1:]], params, pause)
        return deleted

    def _delete_in_batches(self, table: str, where: list[str], params: list[Any], pause: float) -> int:
        batch = f"({self._ROW_ID}) IN (SELECT {self._ROW_ID} FROM {table}{_clause(where)} LIMIT {self.PRUNE_BATCH})"
        total = 0
        while True:
            with self._transaction() as tx:
                if table == "records":
                    deleted = len(delete_records(tx, batch, params))
                else:
                    deleted = tx.many(f"DELETE FROM {table} WHERE {batch}", [params])
            total += deleted
            if deleted < self.PRUNE_BATCH:
                return total
            time.sleep(pause)  # let a waiting writer in

    def count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM records")[0][0])

    # ---- what deduplication asks ----------------------------------------------------------------
    def _in_traces(self, tx: Transaction, columns: str, traces: set[str], table: str = "records", since: str | None = None) -> list[tuple[Any, ...]]:
        """``columns`` of every row of ``table`` in ``traces`` (through an index with the trace id first); of records,
        ``since`` a day when given."""
        ordered = sorted(traces)
        bound, after = (" AND +started_at >= ?", [since]) if since else ("", [])  # +: found by trace, not the time index
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(ordered), 300):
            chunk = ordered[start : start + 300]
            rows += tx.rows(f"SELECT {columns} FROM {table} WHERE trace_id IN ({', '.join('?' * len(chunk))}){bound}", [*chunk, *after])
        return rows

    # ---- log events about records (OTLP logs), in either order of arrival --------------------------
    def attach_events(self, events: dict[Key, list[dict[str, Any]]], join: Join, received_at: str) -> tuple[int, int]:
        """Join each key's events to its stored record (``join(record, events)``), or keep them pending for the record
        to come; returns (events joined, events pending). Their traces are held as a batch's write holds them, so an
        event and its record written at once by two workers still meet (the sweep is the safety net)."""
        with self.settling({key[1] for key in events}) as stored:
            joined = self._join_stored(stored.tx, events, join)
            waiting = [(*key, received_at, orjson.dumps(event)) for key, batch in events.items() if key not in joined for event in batch]
            stored.tx.many(_PENDING, waiting)
        return sum(len(events[key]) for key in joined), len(waiting)

    def sweep_pending(self, join: Join, expired_before: str, received_before: str) -> int:
        """Join pending events whose record has arrived since (a race between workers), older than ``received_before``;
        drop those received before ``expired_before`` (their span never became a record). Returns events joined."""
        rows = self._read("SELECT id, project, trace_id, span_id, event FROM pending_events WHERE received_at < ? ORDER BY id LIMIT 5000", (received_before,))
        by_key: dict[Key, list[tuple[int, dict[str, Any]]]] = {}
        for row_id, project, trace_id, span_id, blob in rows:
            by_key.setdefault((project, trace_id, span_id), []).append((row_id, orjson.loads(blob)))
        with self._transaction() as tx:
            joined = self._join_stored(tx, {key: [event for _, event in pending] for key, pending in by_key.items()}, join)
            tx.many("DELETE FROM pending_events WHERE id = ?", [(row_id,) for key in joined for row_id, _ in by_key[key]])  # only what was joined
            tx.many("DELETE FROM pending_events WHERE received_at < ?", [(expired_before,)])
        return sum(len(by_key[key]) for key in joined)

    def _join_stored(self, tx: Transaction, events: dict[Key, list[dict[str, Any]]], join: Join) -> set[Key]:
        """Add each key's events to its stored record within ``tx`` (one read, one batch of updates); the keys whose
        record is stored."""
        found = self._stored_records(tx, list(events))
        updates = []
        for key, (started_at, blob) in found.items():
            record = orjson.loads(blob)
            join(record, events[key])
            updates.append((orjson.dumps(record), key[1], key[2], key[0], started_at))  # the start: PostgreSQL's day
        tx.many(f"UPDATE records SET record = ? WHERE {ONE_RECORD}", updates)
        return set(found)

    def _stored_records(self, tx: Transaction, keys: Sequence[Key]) -> dict[Key, tuple[str, bytes]]:
        """The start and the record of each of ``keys`` that is stored, by key: one lookup in the key's index each
        (SQLite runs in process, where a statement costs microseconds)."""
        found: dict[Key, tuple[str, bytes]] = {}
        for key in keys:
            for started_at, blob in tx.rows(f"SELECT started_at, record FROM records WHERE {KEY_MATCH}", (key[1], key[2], key[0])):
                found[key] = (started_at, blob)
        return found

    # ---- sessions ---------------------------------------------------------------------------------
    def write_events(self, events: Sequence[dict[str, Any]]) -> None:
        """Session starts and ends update ``sessions``; feedback and custom events are appended."""
        with self._transaction() as tx:
            for e in events:
                key = (e["project"] or "", e["session_id"])
                metadata = orjson.dumps(e.get("metadata") or {})
                if e["type"] == "session_start":
                    tx.many(_SESSION_START, [(*key, e.get("user_id"), metadata, e["timestamp"])])
                elif e["type"] == "session_end":
                    tx.many(_SESSION_END, [(*key, metadata, e["timestamp"], e["timestamp"])])
                else:
                    tx.many(_EVENT, [(*key, e["type"], e.get("log_id"), e["timestamp"], orjson.dumps(e))])

    def session_events(self, session_id: str | None = None, log_id: str | None = None, projects: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Feedback and custom events, oldest first, of one session or about one record (in ``projects``, all if None)."""
        where, params = _where(projects, {})
        chosen = [(column, value) for column, value in (("session_id", session_id), ("log_id", log_id)) if value is not None]
        where += [f"{column} = ?" for column, _ in chosen]
        params += [value for _, value in chosen]
        return [orjson.loads(row[0]) for row in self._read(f"SELECT event FROM session_events{_clause(where)} ORDER BY id", params)]

    def feedback_counts(self, session_ids: Sequence[str], projects: Sequence[str] | None = None) -> dict[str, int]:
        """How much feedback each of ``session_ids`` has (in ``projects``, all if None): one query for a page of sessions."""
        if not session_ids:
            return {}
        where, params = _where(projects, {})
        where += ["type = 'feedback'", f"session_id IN ({', '.join('?' * len(session_ids))})"]
        sql = f"SELECT session_id, COUNT(*) FROM session_events{_clause(where)} GROUP BY session_id"
        return {row[0]: int(row[1]) for row in self._read(sql, [*params, *session_ids])}

    def sessions(self, projects: Sequence[str] | None = None, limit: int | None = None, session_id: str | None = None) -> list[dict[str, Any]]:
        """Sessions (in ``projects``, all if None; the newest ``limit``, all if None; or the one ``session_id``):
        project, id, app user, metadata, first start and last end, oldest first."""
        where, params = _where(projects, {"session": session_id})
        sql = f"SELECT project, session_id, app_user_id, metadata, started_at, ended_at FROM sessions{_clause(where)} ORDER BY started_at DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        keys = ("project", "session_id", "app_user_id", "metadata", "started_at", "ended_at")
        return [dict(zip(keys, (*row[:3], orjson.loads(row[3] or b"{}"), *row[4:]))) for row in reversed(self._read(sql, params))]

    def timeline(self, since: str, projects: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Model calls since ``since`` (RFC 3339) per hour, project and model: calls, cost and mean latency, computed
        by the database on the (project, started_at) index's range."""
        where, params = _where(projects, {})
        where += ["started_at >= ?", f"(operation IS NULL OR operation IN ({', '.join('?' * len(_MODEL_CALLS))}))"]
        params += [since, *_MODEL_CALLS]
        sql = (f"SELECT substr(started_at, 1, 13) AS hour, project, model, COUNT(*), SUM(cost), AVG(latency_ms) FROM records{_clause(where)}"
               " GROUP BY substr(started_at, 1, 13), project, model ORDER BY hour")  # fmt: skip
        keys = ("hour", "project", "model", "calls", "cost", "mean_latency_ms")
        return [dict(zip(keys, (row[0], row[1], row[2], int(row[3]), float(row[4] or 0), float(row[5] or 0)))) for row in self._read(sql, params)]
