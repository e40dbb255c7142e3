"""The embedded store: records, sessions and feedback in one SQLite file (stdlib ``sqlite3``, WAL).

The queries live in :class:`~otel_aitracer._destinations._records_db.RecordsDB`; this module opens
the file, keeps its schema (and migrates older ones), and runs transactions.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from .._drops import DropError, drop_reason
from .._files import private_dir, private_file
from .._fork import new_lock
from .._guard import warn_once
from ..exceptions import ConfigurationError
from ._records_db import RecordsDB, rebuild_rollups
from ._records_table import ADDED_COLUMNS, COLUMNS, INDEXES, INSERT, Transaction, rolled_of_row
from ._rollups import ADDED_TOTALS, ROLLED, Sums
from ._rollups import TABLES as ROLLUP_TABLES

__all__ = ["SQLiteStore"]

_SCHEMA_VERSION = 6  # 5: rollups for stats; 6: their requests are model calls (rollups counted again)
_BUSY_TIMEOUT = 10.0  # seconds a write waits for another process's lock
_TABLES = """
CREATE TABLE IF NOT EXISTS records (
    span_id TEXT NOT NULL, trace_id TEXT NOT NULL, parent_span_id TEXT, project TEXT NOT NULL,
    session_id TEXT, app_user_id TEXT, model TEXT, provider TEXT, operation TEXT, status TEXT,
    started_at TEXT NOT NULL, latency_ms INTEGER, input_tokens INTEGER, output_tokens INTEGER,
    cost REAL, anomaly_score INTEGER, anomaly_codes TEXT, request_model TEXT, record BLOB NOT NULL, UNIQUE (trace_id, span_id, project)
);
CREATE TABLE IF NOT EXISTS sessions (
    project TEXT NOT NULL, session_id TEXT NOT NULL, app_user_id TEXT, metadata BLOB,
    started_at TEXT NOT NULL, ended_at TEXT, PRIMARY KEY (project, session_id)
);
CREATE TABLE IF NOT EXISTS session_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, session_id TEXT NOT NULL, type TEXT NOT NULL,
    log_id TEXT, created_at TEXT NOT NULL, event BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS kept_state (name TEXT PRIMARY KEY, state BLOB NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
    received_at TEXT NOT NULL, event BLOB NOT NULL
);
"""
_SCHEMA = _TABLES + ";\n".join((*(t.format(clustered=" WITHOUT ROWID") for t in ROLLUP_TABLES), *INDEXES)) + ";\n"
_FIRST_COLUMNS = [c for c in COLUMNS if c not in ADDED_COLUMNS]
# Stores written before schema 4 keyed records by span id alone (2), or by trace and span id (3): one
# project's ids could collide with another's.
_MIGRATE = f"""
ALTER TABLE records RENAME TO records_v2;
DROP INDEX IF EXISTS records_project_time; DROP INDEX IF EXISTS records_trace; DROP INDEX IF EXISTS records_session;
DROP INDEX IF EXISTS records_user; DROP INDEX IF EXISTS records_time; DROP INDEX IF EXISTS records_parent;
DROP INDEX IF EXISTS records_session_time; DROP INDEX IF EXISTS records_user_time; DROP INDEX IF EXISTS records_model_time;
{_SCHEMA}
INSERT OR IGNORE INTO records ({', '.join(_FIRST_COLUMNS)}, record) SELECT {', '.join(_FIRST_COLUMNS)}, record FROM records_v2;
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

    def add_sums(self, sums: Sums, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sums.upsert(sums.values()), rows)  # an upsert costs SQLite about a microsecond

    def each(self, sql: str, params: Sequence[Any] = (), size: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        cursor = self._conn.execute(sql, params)
        while chunk := cursor.fetchmany(size):
            yield chunk


class SQLiteStore(RecordsDB):
    """A sink that writes records to a SQLite file; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str], *, cache_mib: int = 2, lazy: bool = False) -> None:
        """``cache_mib``: SQLite's page cache; the ingest server gives it more (inserts touch index pages all over).

        A store that cannot be opened raises :class:`ConfigurationError`, unless ``lazy`` (the in-process
        pipeline): then start-up goes on, a warning says why, and each write tries to open it again
        (failing writes raise :class:`~otel_aitracer._drops.DropError`, counted ``store_unavailable``).
        """
        self.path = Path(path)
        self._cache_mib = cache_mib
        self._lock = new_lock(hold_across_fork=True)  # no thread is inside SQLite at a fork
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._read_lock = new_lock(hold_across_fork=True)
        self._reader: sqlite3.Connection | None = None
        self._reader_pid = 0
        try:
            self._connection(busy_timeout=0.0 if lazy else _BUSY_TIMEOUT)  # never wait on a lock at start-up
        except (sqlite3.Error, OSError) as exc:
            if not lazy:
                raise ConfigurationError(f"cannot open the store at {self.path}: {exc}") from exc
            warn_once(("store", str(self.path)), "otel-aitracer: cannot open the store at %s (%s); its records are "
                      "counted in stats()['dropped']['store_unavailable'] until it can be opened", self.path, exc)  # fmt: skip

    def _connection(self, busy_timeout: float = 10.0) -> sqlite3.Connection:
        # A connection must not cross fork(): the child opens its own (the parent's is left alone, never closed).
        if self._conn is None or self._pid != os.getpid():
            if str(self.path) != ":memory:":
                if self.path.parent != Path():
                    private_dir(self.path.parent)
                private_file(self.path)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=busy_timeout, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA wal_autocheckpoint=10000")  # checkpoint (and fsync) every ~40 MB of WAL, not 4 MB
                conn.execute("PRAGMA journal_size_limit=67108864")
                conn.execute(f"PRAGMA cache_size=-{int(self._cache_mib) * 1024}")
                _add_missing_columns(conn)
                conn.executescript(_schema_script(conn))
                _count_into_rollups(conn)
                conn.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT * 1000)}")
            except BaseException:
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        """The connection, or :class:`DropError` (``store_unavailable``) when the file cannot be opened."""
        try:
            return self._connection()
        except (sqlite3.Error, OSError) as exc:
            reason = "disk_full" if drop_reason(exc) == "disk_full" else "store_unavailable"
            raise DropError(reason, f"cannot open the store at {self.path}: {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[_SQLiteTransaction]:
        with self._lock:
            conn = self._open()
            conn.execute("BEGIN IMMEDIATE")  # the write lock first: no read snapshot to upgrade, and _insert sees no other writer
            try:
                yield _SQLiteTransaction(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _insert(self, tx: Transaction, rows: list[list[Any]]) -> list[tuple[Any, ...]]:
        """All of ``rows`` when none was skipped (the usual case); else those past the largest row id before, as SQLite
        gives a new row the next one."""
        [(before,)] = tx.rows("SELECT COALESCE(MAX(rowid), 0) FROM records")
        if tx.many(INSERT, rows) == len(rows):
            return [rolled_of_row(row) for row in rows]
        return tx.rows(f"SELECT {', '.join(ROLLED)} FROM records NOT INDEXED WHERE rowid > ?", (before,))  # by row id, not an index

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Reads go through a connection of their own (WAL lets it read while the other writes), so a long
        ``stats`` never holds up ingest; an in-memory store has one connection for both."""
        if str(self.path) == ":memory:":
            with self._lock:
                return self._open().execute(sql, params).fetchall()
        if self._reader is None or self._reader_pid != os.getpid():
            with self._lock:  # never while holding the read lock: close() takes them in this order
                self._open()  # the file and its schema exist before anyone reads
        with self._read_lock:
            return self._read_connection().execute(sql, params).fetchall()

    def _read_connection(self) -> sqlite3.Connection:
        if self._reader is None or self._reader_pid != os.getpid():  # never across fork()
            try:
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=_BUSY_TIMEOUT, isolation_level=None)
                conn.execute(f"PRAGMA cache_size=-{int(self._cache_mib) * 1024}")
                conn.execute("PRAGMA query_only=1")
            except (sqlite3.Error, OSError) as exc:
                raise DropError("store_unavailable", f"cannot read the store at {self.path}: {exc}") from exc
            self._reader, self._reader_pid = conn, os.getpid()
        return self._reader

    def close(self, deadline: float | None = None) -> None:
        """Close the file; by ``deadline`` (``time.monotonic()``) if given, leaving it open if a write holds it past then."""
        timeout = -1 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._lock.acquire(timeout=timeout):
            return
        try:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            with self._read_lock:
                if self._reader is not None and self._reader_pid == os.getpid():
                    self._reader.close()
                self._reader = None
        finally:
            self._lock.release()



def _count_into_rollups(conn: sqlite3.Connection) -> None:
    """A store older than schema 6 has no rollups, or counted agent and tool records as requests: count its records
    (again) once; the first process to open it does."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= _SCHEMA_VERSION:
        return  # no lock taken: opening a current store never waits for a writer
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
            rebuild_rollups(_SQLiteTransaction(conn))
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """A store from before a column was added gets it (empty for its old records), before indexes name it."""
    for table, added in (("records", ADDED_COLUMNS), ("rollup_totals", ADDED_TOTALS)):
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for column, kind in added.items():
            if present and column not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _schema_script(conn: sqlite3.Connection) -> str:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    has_records = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'").fetchone() is not None
    return _MIGRATE if has_records and version < 4 else _SCHEMA
