"""The embedded store: records, sessions and feedback in one SQLite file (stdlib ``sqlite3``, WAL).

The queries live in :class:`~otel_aitracer._records_db.RecordsDB`; this module opens
the file, keeps its schema (and migrates older ones), and runs transactions.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from ._records_db import COLUMNS, FILTERS, INDEXES, RecordsDB
from .exceptions import ConfigurationError

__all__ = ["FILTERS", "SQLiteStore"]

_SCHEMA_VERSION = 3
_TABLES = """
CREATE TABLE IF NOT EXISTS records (
    span_id TEXT NOT NULL, trace_id TEXT NOT NULL, parent_span_id TEXT, project TEXT NOT NULL,
    session_id TEXT, app_user_id TEXT, model TEXT, provider TEXT, operation TEXT, status TEXT,
    started_at TEXT NOT NULL, latency_ms INTEGER, input_tokens INTEGER, output_tokens INTEGER,
    cost REAL, record BLOB NOT NULL, UNIQUE (trace_id, span_id)
);
CREATE TABLE IF NOT EXISTS sessions (
    project TEXT NOT NULL, session_id TEXT NOT NULL, app_user_id TEXT, metadata BLOB,
    started_at TEXT NOT NULL, ended_at TEXT, PRIMARY KEY (project, session_id)
);
CREATE TABLE IF NOT EXISTS session_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, session_id TEXT NOT NULL, type TEXT NOT NULL,
    log_id TEXT, created_at TEXT NOT NULL, event BLOB NOT NULL
);
"""
_SCHEMA = _TABLES + ";\n".join(INDEXES) + f";\nPRAGMA user_version = {_SCHEMA_VERSION};\n"
# Stores written before schema 3 keyed records by span id alone.
_MIGRATE_FROM_2 = f"""
ALTER TABLE records RENAME TO records_v2;
DROP INDEX IF EXISTS records_project_time; DROP INDEX IF EXISTS records_trace; DROP INDEX IF EXISTS records_session;
DROP INDEX IF EXISTS records_user; DROP INDEX IF EXISTS records_time; DROP INDEX IF EXISTS records_parent;
{_SCHEMA}
INSERT OR IGNORE INTO records ({', '.join(COLUMNS)}, record) SELECT {', '.join(COLUMNS)}, record FROM records_v2;
DROP TABLE records_v2;
"""


class _SQLiteTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        before = self._conn.total_changes
        self._conn.executemany(sql, rows)
        return self._conn.total_changes - before


class SQLiteStore(RecordsDB):
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

    @contextmanager
    def _transaction(self) -> Iterator[_SQLiteTransaction]:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                yield _SQLiteTransaction(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None



def _schema_script(conn: sqlite3.Connection) -> str:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    has_records = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'").fetchone() is not None
    return _MIGRATE_FROM_2 if has_records and version < 3 else _SCHEMA
