"""The embedded store: one SQLite row per record (stdlib ``sqlite3``, WAL).

The full record is kept as JSON; the columns the CLI filters and groups on are
copied out and indexed. Writing a span id twice keeps the first row, so a
retried batch never counts a call twice. Sessions (start, end, metadata) and
their feedback and events have tables of their own.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Sequence

import orjson

from .exceptions import ConfigurationError

_SCHEMA_VERSION = 3
_COLUMNS = (
    "span_id", "trace_id", "parent_span_id", "project", "session_id", "app_user_id", "model", "provider",
    "operation", "status", "started_at", "latency_ms", "input_tokens", "output_tokens", "cost",
)  # fmt: skip
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS records (
    span_id TEXT NOT NULL, trace_id TEXT NOT NULL, parent_span_id TEXT, project TEXT NOT NULL,
    session_id TEXT, app_user_id TEXT, model TEXT, provider TEXT, operation TEXT, status TEXT,
    started_at TEXT NOT NULL, latency_ms INTEGER, input_tokens INTEGER, output_tokens INTEGER,
    cost REAL, record BLOB NOT NULL, UNIQUE (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS records_project_time ON records (project, started_at);
CREATE INDEX IF NOT EXISTS records_session ON records (session_id);
CREATE INDEX IF NOT EXISTS records_user ON records (app_user_id);
CREATE INDEX IF NOT EXISTS records_time ON records (started_at);
CREATE TABLE IF NOT EXISTS sessions (
    project TEXT NOT NULL, session_id TEXT NOT NULL, app_user_id TEXT, metadata BLOB,
    started_at TEXT NOT NULL, ended_at TEXT, PRIMARY KEY (project, session_id)
);
CREATE TABLE IF NOT EXISTS session_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, session_id TEXT NOT NULL, type TEXT NOT NULL,
    log_id TEXT, created_at TEXT NOT NULL, event BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS session_events_session ON session_events (session_id);
CREATE INDEX IF NOT EXISTS session_events_log ON session_events (log_id);
PRAGMA user_version = {_SCHEMA_VERSION};
"""
# Only a repeated (trace id, span id) is skipped; any other constraint failure fails the batch loudly.
# One unique index serves deduplication and trace lookups: random keys are what make inserts slow.
_INSERT = (
    f"INSERT INTO records ({', '.join(_COLUMNS)}, record) VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})"
    " ON CONFLICT(trace_id, span_id) DO NOTHING"
)
# Stores written before schema 3 keyed records by span id alone.
_MIGRATE_FROM_2 = f"""
ALTER TABLE records RENAME TO records_v2;
DROP INDEX IF EXISTS records_project_time; DROP INDEX IF EXISTS records_trace; DROP INDEX IF EXISTS records_session;
DROP INDEX IF EXISTS records_user; DROP INDEX IF EXISTS records_time; DROP INDEX IF EXISTS records_parent;
{_SCHEMA}
INSERT OR IGNORE INTO records ({', '.join(_COLUMNS)}, record) SELECT {', '.join(_COLUMNS)}, record FROM records_v2;
DROP TABLE records_v2;
"""
# A session entered again (one per request, say) keeps its first start and its latest end.
_SESSION_START = (
    "INSERT INTO sessions (project, session_id, app_user_id, metadata, started_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT(project, session_id) DO UPDATE SET app_user_id = COALESCE(excluded.app_user_id, app_user_id)"
)
_SESSION_END = (
    "INSERT INTO sessions (project, session_id, metadata, started_at, ended_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT(project, session_id) DO UPDATE SET metadata = excluded.metadata, ended_at = excluded.ended_at"
)
_EVENT = "INSERT INTO session_events (project, session_id, type, log_id, created_at, event) VALUES (?, ?, ?, ?, ?, ?)"
# Filters the CLI offers -> the column each one compares.
FILTERS = {"project": "project", "session": "session_id", "user": "app_user_id", "trace": "trace_id", "model": "model", "status": "status"}


class SQLiteStore:
    """A sink that writes records to a SQLite file; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str], *, cache_mib: int = 2) -> None:
        """``cache_mib``: SQLite's page cache; the ingest server gives it more (inserts touch index pages all over)."""
        self.path = Path(path)
        self._cache_mib = cache_mib
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        try:
            self._connection()
        except (sqlite3.Error, OSError) as exc:
            raise ConfigurationError(f"cannot open the store at {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross fork(): the child opens its own.
        if self._conn is None or self._pid != os.getpid():
            if self.path.parent != Path():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=10000")  # checkpoint (and fsync) every ~40 MB of WAL, not 4 MB
            conn.execute("PRAGMA journal_size_limit=67108864")
            conn.execute(f"PRAGMA cache_size=-{int(self._cache_mib) * 1024}")
            conn.executescript(_schema_script(conn))
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def write(self, records: Sequence[dict[str, Any]]) -> int:
        """Insert ``records`` in one transaction; returns how many were new (a known span id is skipped)."""
        rows = [tuple(r.get(c) for c in _COLUMNS) + (orjson.dumps(r),) for r in records]
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                before = conn.total_changes
                conn.executemany(_INSERT, rows)
                added = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return added

    def parents_with_child_call(self, keys: Sequence[tuple[str, str, str]]) -> set[str]:
        """Of ``(trace_id, span_id, operation)``, the span ids with a stored direct child of the same operation."""
        wanted = set(keys)
        rows = self._in_traces("trace_id, parent_span_id, operation", {trace for trace, _, _ in keys})
        return {parent for trace, parent, op in rows if (trace, parent, op) in wanted}

    def pop_calls(self, keys: Sequence[tuple[str, str, str]]) -> dict[str, dict[str, Any]]:
        """Remove and return the stored records of ``(trace_id, span_id, operation)`` (outer duplicates), by span id."""
        wanted = set(keys)
        rows = self._in_traces("trace_id, span_id, operation, rowid", {trace for trace, _, _ in keys})
        found = {span_id: rowid for trace, span_id, op, rowid in rows if (trace, span_id, op) in wanted}
        popped: dict[str, dict[str, Any]] = {}
        with self._lock:
            conn = self._connection()
            for span_id, rowid in found.items():
                popped[span_id] = orjson.loads(conn.execute("SELECT record FROM records WHERE rowid = ?", (rowid,)).fetchone()[0])
            conn.executemany("DELETE FROM records WHERE rowid = ?", [(rowid,) for rowid in found.values()])
        return popped

    def pop_stream_request(self, log: dict[str, Any]) -> dict[str, Any] | None:
        """Remove and return the stored request of a streamed call whose result ``log`` carries:
        the latest sibling of the same operation, started no later, with no output yet."""
        sql = ("SELECT rowid, record FROM records WHERE trace_id = ? AND parent_span_id IS ? AND operation = ? AND started_at <= ?"
               " AND span_id != ? ORDER BY started_at DESC LIMIT 8")  # fmt: skip
        with self._lock:
            conn = self._connection()
            params = (log["trace_id"], log.get("parent_span_id"), log.get("operation"), log["started_at"], log["span_id"])
            for rowid, blob in conn.execute(sql, params).fetchall():
                record = orjson.loads(blob)
                if record.get("output") in (None, {"redacted": True}) and not record.get("output_tokens"):
                    conn.execute("DELETE FROM records WHERE rowid = ?", (rowid,))
                    return record
        return None

    def _in_traces(self, columns: str, traces: set[str]) -> list[tuple[Any, ...]]:
        """``columns`` of every record of ``traces`` (through the unique index's trace prefix)."""
        rows: list[tuple[Any, ...]] = []
        ordered = sorted(traces)
        with self._lock:
            conn = self._connection()
            for chunk in _chunks(ordered, 300):
                sql = f"SELECT {columns} FROM records WHERE trace_id IN ({', '.join('?' * len(chunk))})"
                rows += conn.execute(sql, chunk).fetchall()
        return rows

    def write_events(self, events: Sequence[dict[str, Any]]) -> None:
        """Session starts and ends update ``sessions``; feedback and custom events are appended."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                for e in events:
                    self._write_event(conn, e)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _write_event(conn: sqlite3.Connection, e: dict[str, Any]) -> None:
        key = (e["project"] or "", e["session_id"])
        metadata = orjson.dumps(e.get("metadata") or {})
        if e["type"] == "session_start":
            conn.execute(_SESSION_START, (*key, e.get("user_id"), metadata, e["timestamp"]))
        elif e["type"] == "session_end":
            conn.execute(_SESSION_END, (*key, metadata, e["timestamp"], e["timestamp"]))
        else:
            conn.execute(_EVENT, (*key, e["type"], e.get("log_id"), e["timestamp"], orjson.dumps(e)))

    def session_events(self, session_id: str | None = None, log_id: str | None = None) -> list[dict[str, Any]]:
        """Feedback and custom events, oldest first, of one session or about one record."""
        sql = "SELECT event FROM session_events"
        clauses = [f"{column} = ?" for column, value in (("session_id", session_id), ("log_id", log_id)) if value is not None]
        params = [value for value in (session_id, log_id) if value is not None]
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._lock:
            rows = self._connection().execute(sql + " ORDER BY id", params).fetchall()
        return [orjson.loads(row[0]) for row in rows]

    def sessions(self) -> list[dict[str, Any]]:
        """Every session: project, id, app user, metadata, first start and last end."""
        sql = "SELECT project, session_id, app_user_id, metadata, started_at, ended_at FROM sessions ORDER BY started_at"
        with self._lock:
            rows = self._connection().execute(sql).fetchall()
        keys = ("project", "session_id", "app_user_id", "metadata", "started_at", "ended_at")
        return [dict(zip(keys, (*row[:3], orjson.loads(row[3] or b"{}"), *row[4:]))) for row in rows]

    def query(
        self, limit: int | None = None, newest_first: bool = True, projects: Sequence[str] | None = None, **filters: str | None
    ) -> list[dict[str, Any]]:
        """Records matching ``filters`` (keys of :data:`FILTERS`) in ``projects`` (all if None), newest first by default."""
        clauses, params = [], []
        if projects is not None:
            clauses.append(f"project IN ({', '.join('?' * len(projects))})" if projects else "0")
            params.extend(projects)
        for name, value in filters.items():
            if value is not None:
                clauses.append(f"{FILTERS[name]} = ?")
                params.append(value)
        sql = "SELECT record FROM records"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY started_at {'DESC' if newest_first else 'ASC'}, span_id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._lock:
            rows = self._connection().execute(sql, params).fetchall()
        return [orjson.loads(row[0]) for row in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None



def _schema_script(conn: sqlite3.Connection) -> str:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    has_records = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'").fetchone() is not None
    return _MIGRATE_FROM_2 if has_records and version < 3 else _SCHEMA


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
