"""Records in PostgreSQL, for ``otel-aitracer serve`` when one machine is not enough (``--store postgresql://…``).

The same queries as the SQLite store (:class:`~otel_aitracer._destinations._records_db.RecordsDB`);
this module keeps the schema and runs them through psycopg 3 (``pip install
'otel-aitracer[postgres]'``). Several serve processes, on several machines, can share
one database: the unique ``(trace_id, span_id)`` key keeps each span once.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from .._fork import new_lock
from ..exceptions import ConfigurationError
from ._records_db import INDEXES, RecordsDB

_TABLES = (
    """CREATE TABLE IF NOT EXISTS records (
        span_id TEXT NOT NULL, trace_id TEXT NOT NULL, parent_span_id TEXT, project TEXT NOT NULL,
        session_id TEXT, app_user_id TEXT, model TEXT, provider TEXT, operation TEXT, status TEXT,
        started_at TEXT NOT NULL, latency_ms BIGINT, input_tokens BIGINT, output_tokens BIGINT,
        cost DOUBLE PRECISION, record BYTEA NOT NULL)""",
    # the record's key (a database made before projects were part of it had a key on trace and span id alone)
    "ALTER TABLE records DROP CONSTRAINT IF EXISTS records_trace_id_span_id_key",
    "CREATE UNIQUE INDEX IF NOT EXISTS records_key ON records (trace_id, span_id, project)",
    """CREATE TABLE IF NOT EXISTS sessions (
        project TEXT NOT NULL, session_id TEXT NOT NULL, app_user_id TEXT, metadata BYTEA,
        started_at TEXT NOT NULL, ended_at TEXT, PRIMARY KEY (project, session_id))""",
    """CREATE TABLE IF NOT EXISTS session_events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, project TEXT NOT NULL, session_id TEXT NOT NULL,
        type TEXT NOT NULL, log_id TEXT, created_at TEXT NOT NULL, event BYTEA NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS pending_events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, project TEXT NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
        received_at TEXT NOT NULL, event BYTEA NOT NULL)""",
)
_SCHEMA_LOCK = 7_370_001  # pg_advisory_xact_lock key: serve workers starting together create the schema once


def is_postgres_dsn(store: str | os.PathLike[str]) -> bool:
    return str(store).startswith(("postgresql://", "postgres://"))


class _PostgresTransaction:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(_pg(sql), params)
        return self._cursor.fetchall()

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        self._cursor.executemany(_pg(sql), rows)
        return max(0, self._cursor.rowcount)


class PostgresStore(RecordsDB):
    """A records database in PostgreSQL; one connection per process, shared by its threads under a lock."""

    _ROW_ID = "ctid"

    def __init__(self, dsn: str) -> None:
        try:
            import psycopg
        except ImportError as exc:  # the extra is optional
            raise ConfigurationError("a PostgreSQL store needs psycopg: pip install 'otel-aitracer[postgres]'") from exc
        self._psycopg = psycopg
        self.dsn = dsn
        self.path = dsn.split("@")[-1]  # for messages: host/db without the credentials
        self._lock = new_lock(hold_across_fork=True)  # no thread is inside psycopg at a fork
        self._conn: Any = None
        self._pid = 0
        try:
            self._connection()
        except psycopg.Error as exc:
            raise ConfigurationError(f"cannot open the PostgreSQL store at {self.path}: {exc}") from exc

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._pid != os.getpid():  # never across fork()
            conn = self._psycopg.connect(self.dsn)
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in (*_TABLES, *INDEXES):
                    cursor.execute(statement)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[_PostgresTransaction]:
        with self._lock:
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cursor:
                yield _PostgresTransaction(cursor)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _pg(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the shared SQL has no literal ``?`` or ``%``)."""
    return sql.replace("?", "%s")
