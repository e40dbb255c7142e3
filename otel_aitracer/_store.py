"""The embedded store: one SQLite row per record (stdlib ``sqlite3``, WAL).

The full record is kept as JSON; the columns the CLI filters and groups on are
copied out and indexed. Writing a span id twice keeps the first row, so a
retried batch never counts a call twice.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Sequence

import orjson

from .exceptions import ConfigurationError

_SCHEMA_VERSION = 1
_COLUMNS = (
    "span_id", "trace_id", "parent_span_id", "project", "session_id", "app_user_id", "model", "provider",
    "operation", "status", "started_at", "latency_ms", "input_tokens", "output_tokens", "cost",
)  # fmt: skip
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS records (
    span_id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, parent_span_id TEXT, project TEXT NOT NULL,
    session_id TEXT, app_user_id TEXT, model TEXT, provider TEXT, operation TEXT, status TEXT,
    started_at TEXT NOT NULL, latency_ms INTEGER, input_tokens INTEGER, output_tokens INTEGER,
    cost REAL, record BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_project_time ON records (project, started_at);
CREATE INDEX IF NOT EXISTS records_trace ON records (trace_id);
CREATE INDEX IF NOT EXISTS records_session ON records (session_id);
CREATE INDEX IF NOT EXISTS records_user ON records (app_user_id);
CREATE INDEX IF NOT EXISTS records_time ON records (started_at);
PRAGMA user_version = {_SCHEMA_VERSION};
"""
# Only a repeated span id is skipped; any other constraint failure fails the batch loudly.
_INSERT = (
    f"INSERT INTO records ({', '.join(_COLUMNS)}, record) VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})"
    " ON CONFLICT(span_id) DO NOTHING"
)
# Filters the CLI offers -> the column each one compares.
FILTERS = {"project": "project", "session": "session_id", "user": "app_user_id", "trace": "trace_id", "model": "model", "status": "status"}


class SQLiteStore:
    """A sink that writes records to a SQLite file; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
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
            conn.executescript(_SCHEMA)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        rows = [tuple(r.get(c) for c in _COLUMNS) + (orjson.dumps(r),) for r in records]
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def query(self, limit: int | None = None, newest_first: bool = True, **filters: str | None) -> list[dict[str, Any]]:
        """Records matching ``filters`` (keys of :data:`FILTERS`), newest first by default."""
        clauses, params = [], []
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

