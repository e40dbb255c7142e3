"""Records in PostgreSQL, for ``otel-aitracer serve`` when one machine is not enough (``--store postgresql://…``).

The same queries as the SQLite store (:class:`~otel_aitracer._destinations._records_db.RecordsDB`);
this module keeps the schema and runs them through psycopg 3 and its connection pool
(``pip install 'otel-aitracer[postgres]'``). Several serve processes, on several machines,
share one database: the unique key keeps each span once.

Records are partitioned by day of ``started_at`` (a partition is made before the first
record of its day is written), so retention drops whole partitions instead of deleting
rows. A batch is written with one ``COPY`` straight into the records; only a batch that
repeats a stored key (ingest drops those before it writes, so this is rare) goes through a
staging table and an ``INSERT … SELECT … ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import os
import zlib
from contextlib import AbstractContextManager, contextmanager
from datetime import date, timedelta
from typing import Any, Collection, Iterator, Sequence, cast

import orjson

from .._fork import new_lock
from ..exceptions import ConfigurationError
from ._records_db import RecordsDB, rebuild_rollups, rollups_current
from ._records_table import ADDED_COLUMNS, COLUMNS, INDEXES, Key, Transaction, rolled_of_row
from ._rollups import ADDED_TOTALS, ROLLED, Delta, Sums
from ._rollups import TABLES as ROLLUP_TABLES
from ._settling import Settle

_RECORDS = """CREATE TABLE IF NOT EXISTS records (
    span_id TEXT NOT NULL, trace_id TEXT NOT NULL, parent_span_id TEXT, project TEXT NOT NULL,
    session_id TEXT, app_user_id TEXT, model TEXT, provider TEXT, operation TEXT, status TEXT,
    started_at TEXT NOT NULL, latency_ms BIGINT, input_tokens BIGINT, output_tokens BIGINT,
    cost DOUBLE PRECISION, anomaly_score BIGINT, anomaly_codes TEXT, request_model TEXT, record BYTEA NOT NULL) PARTITION BY RANGE (started_at)"""
# the key includes the partition column, as PostgreSQL requires: a span sent again has the same start
_KEY = "CREATE UNIQUE INDEX IF NOT EXISTS records_key ON records (trace_id, span_id, project, started_at)"
_TABLES = (
    _RECORDS,
    *(f"ALTER TABLE records ADD COLUMN IF NOT EXISTS {column} {kind}" for column, kind in ADDED_COLUMNS.items()),  # older stores
    _KEY,
    """CREATE TABLE IF NOT EXISTS sessions (
        project TEXT NOT NULL, session_id TEXT NOT NULL, app_user_id TEXT, metadata BYTEA,
        started_at TEXT NOT NULL, ended_at TEXT, PRIMARY KEY (project, session_id))""",
    """CREATE TABLE IF NOT EXISTS session_events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, project TEXT NOT NULL, session_id TEXT NOT NULL,
        type TEXT NOT NULL, log_id TEXT, created_at TEXT NOT NULL, event BYTEA NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS kept_state (name TEXT PRIMARY KEY, state BYTEA NOT NULL, updated_at TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS pending_events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, project TEXT NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
        received_at TEXT NOT NULL, event BYTEA NOT NULL)""",
)
# Filters the CLI and the UI offer beyond the shared indexes: errors (a few rows) and a model's calls over time.
_PG_INDEXES = (
    "CREATE INDEX IF NOT EXISTS records_model_time ON records (model, started_at)",
    "CREATE INDEX IF NOT EXISTS records_errors ON records (started_at) WHERE status = 'error'",
)
_SCHEMA_LOCK = 7_370_001  # pg_advisory_xact_lock key: serve workers starting together create the schema once
_PARTITION_LOCK = 7_370_002
_ALL_TRACES = 7_370_003  # advisory lock (this, 0): every trace
_A_TRACE = 7_370_004  # advisory lock (this, 31 bits of a trace id): one trace
_DROP_LOCK = 7_370_005  # pg_advisory_xact_lock key: one prune at a time counts a day out of the rollups
_TRACE_LOCKS = 1024  # at most this many trace locks in one transaction
_POOL_WAIT_SECONDS = 5.0  # for a connection; past it, serve answers 503 (retry later) instead of hanging
_COPY = f"COPY {{table}} ({', '.join(COLUMNS)}, record) FROM STDIN"  # into records, or its staging table
_STAGE = "CREATE TEMP TABLE IF NOT EXISTS records_in (LIKE records INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
_INSERT_STAGED = (
    f"INSERT INTO records ({', '.join(COLUMNS)}, record) SELECT {', '.join(COLUMNS)}, record FROM records_in"
    f" ON CONFLICT (trace_id, span_id, project, started_at) DO NOTHING RETURNING {', '.join(ROLLED)}"
)


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
        self._cursor.executemany(_pg(sql), rows)  # psycopg pipelines the statements
        return max(0, self._cursor.rowcount)

    def each(self, sql: str, params: Sequence[Any] = (), size: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
        with self._cursor.connection.cursor(name="aitracer_each") as named:  # a server-side cursor: chunks, not the whole result
            named.execute(_pg(sql), params)
            while chunk := named.fetchmany(size):
                yield chunk

    def add_sums(self, sums: Sums, rows: Sequence[Sequence[Any]]) -> None:
        """One upsert of every row, passed as one JSON array read into the table's own row type: PostgreSQL spends tens
        of microseconds on each statement, and a batch of spans adds to hundreds of sessions' and users' sums. In key
        order: the upsert locks each row it adds to as it goes, and two writers going in different orders deadlock."""
        columns = (*sums.keys, *sums.sums)
        document = orjson.dumps([dict(zip(columns, row)) for row in sorted(rows, key=lambda row: tuple(row[: len(sums.keys)]))]).decode()
        self._cursor.execute(sums.upsert(f"SELECT {', '.join(columns)} FROM jsonb_populate_recordset(NULL::{sums.table}, %s::jsonb)"), (document,))

    def savepoint(self) -> AbstractContextManager[Any]:
        """A nested transaction: what fails within it is undone alone, and the transaction goes on."""
        return cast(AbstractContextManager[Any], self._cursor.connection.transaction())

    def copy_in(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


class PostgresStore(RecordsDB):
    """A records database in PostgreSQL through a connection pool (made per process: never used across fork())."""

    _ROW_ID = "tableoid, ctid"  # ctid alone repeats across partitions
    POOL_SIZE = 4  # per process: the ingest thread, reads, the retention and event threads

    def __init__(self, dsn: str) -> None:
        try:
            import psycopg
            import psycopg_pool
        except ImportError as exc:  # the extra is optional
            raise ConfigurationError("a PostgreSQL store needs psycopg and psycopg-pool: pip install 'otel-aitracer[postgres]'") from exc
        self._psycopg, self._psycopg_pool = psycopg, psycopg_pool
        self.dsn = dsn
        self.path = dsn.split("@")[-1]  # for messages: host/db without the credentials
        self._lock = new_lock(hold_across_fork=True)  # guards making the pool, not its use
        self._pool: Any = None
        self._pid = 0
        self._days: set[str] = set()  # partitions known to exist
        try:
            with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                _migrate_unpartitioned(cursor)
                added_totals = (f"ALTER TABLE rollup_totals ADD COLUMN IF NOT EXISTS {c} {kind}" for c, kind in ADDED_TOTALS.items())  # older stores
                for statement in (*_TABLES, *(t.format(clustered="") for t in ROLLUP_TABLES), *added_totals, *INDEXES, *_PG_INDEXES):
                    cursor.execute(statement)
                if not rollups_current(_PostgresTransaction(cursor)):  # written before rollups, or counted otherwise: count once
                    rebuild_rollups(_PostgresTransaction(cursor))
        except psycopg.Error as exc:
            raise ConfigurationError(f"cannot open the PostgreSQL store at {self.path}: {exc}") from exc

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():  # a child makes its own pool; the parent's is left alone
                self._pool = self._psycopg_pool.ConnectionPool(self.dsn, min_size=1, max_size=self.POOL_SIZE, open=True, timeout=_POOL_WAIT_SECONDS)
                self._pid, self._days = os.getpid(), set()
            pool = self._pool
        with pool.connection() as conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[_PostgresTransaction]:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield _PostgresTransaction(cursor)

    def write_settled(self, batches: Sequence[tuple[Sequence[dict[str, Any]], Settle]]) -> list[int]:
        self._ensure_partitions({r["started_at"][:10] for records, _ in batches for r in records})  # settling keeps starts, or finds stored ones
        return super().write_settled(batches)

    def _insert(self, tx: Transaction, rows: list[list[Any]]) -> list[tuple[Any, ...]]:
        """One COPY straight into the records, as ingest has dropped the spans it found stored (a quarter less work for
        PostgreSQL than staging every batch). When a key is known after all (a write without that check, a span twice in
        a batch), the COPY fails, is undone to its savepoint, and the batch takes the staging path."""
        pg = cast(_PostgresTransaction, tx)
        try:
            with pg.savepoint():
                pg.copy_in(_COPY.format(table="records"), rows)
        except self._psycopg.errors.UniqueViolation:
            return self._insert_skipping_known(pg, rows)
        return [rolled_of_row(row) for row in rows]

    @staticmethod
    def _insert_skipping_known(tx: _PostgresTransaction, rows: list[list[Any]]) -> list[tuple[Any, ...]]:
        """COPY to a staging table, then one insert that skips known spans and returns the rows it inserted."""
        tx.many(_STAGE, [()])
        tx.copy_in(_COPY.format(table="records_in"), rows)
        inserted = tx.rows(_INSERT_STAGED)
        tx.many("DELETE FROM records_in", [()])  # empty for the next batch of the same transaction
        return inserted

    def _in_traces(self, tx: Transaction, columns: str, traces: set[str], table: str = "records", since: str | None = None) -> list[tuple[Any, ...]]:
        """As :meth:`RecordsDB._in_traces`, in one statement with the ids as one array: its plan is made once, where an
        ``IN`` list of a new length was planned again, for every partition, on each batch. ``since`` leaves out (and
        unlocked) the partitions of earlier days: with 30 days stored, 4 µs a span instead of 26."""
        if since:
            return tx.rows(f"SELECT {columns} FROM {table} WHERE trace_id = ANY(?) AND started_at >= ?", (sorted(traces), since))
        return tx.rows(f"SELECT {columns} FROM {table} WHERE trace_id = ANY(?)", (sorted(traces),))

    def _stored_records(self, tx: Transaction, keys: Sequence[Key]) -> dict[Key, tuple[str, bytes]]:
        """As :meth:`RecordsDB._stored_records`, the keys as three arrays, in one statement planned once."""
        rows = tx.rows(
            "SELECT r.project, r.trace_id, r.span_id, r.started_at, r.record FROM unnest(?::text[], ?::text[], ?::text[])"
            " AS k(trace_id, span_id, project) JOIN records r USING (trace_id, span_id, project)",
            ([trace_id for _, trace_id, _ in keys], [span_id for _, _, span_id in keys], [project for project, _, _ in keys]),
        )
        return {(project, trace_id, span_id): (started_at, blob) for project, trace_id, span_id, started_at, blob in rows}

    def _hold_traces(self, tx: Transaction, traces: Collection[str]) -> None:
        """A transaction-scoped advisory lock per trace, taken in key order (so two writers cannot deadlock on them):
        workers and serve instances writing the same trace settle it one after the other, writers of other traces go
        on. A batch of more than :data:`_TRACE_LOCKS` traces takes the lock of all traces instead, which every other
        batch holds shared: PostgreSQL's lock table is shared and small."""
        if len(traces) > _TRACE_LOCKS:
            tx.rows("SELECT pg_advisory_xact_lock(?, 0)", (_ALL_TRACES,))
            return
        tx.rows("SELECT pg_advisory_xact_lock_shared(?, 0)", (_ALL_TRACES,))
        keys = sorted({_trace_lock(trace) for trace in traces})
        tx.rows("SELECT count(pg_advisory_xact_lock(?, key)) FROM unnest(?::int[]) AS key", (_A_TRACE, keys))

    def _ensure_partitions(self, days: set[str]) -> None:
        missing = days - self._days
        if not missing:
            return
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_PARTITION_LOCK,))  # two workers, one new day
            for day in sorted(missing):
                cursor.execute(_partition_sql(day))
        self._days |= missing

    def prune(self, cutoff: str, project: str | None = None, exclude: Sequence[str] = (), pause: float = 0.005) -> int:
        """As :meth:`RecordsDB.prune`; for every project at once, whole days before the cutoff are dropped as partitions."""
        dropped = self._drop_days_before(cutoff[:10]) if project is None and not exclude else 0
        return dropped + super().prune(cutoff, project, exclude, pause)

    def _drop_days_before(self, day: str) -> int:
        """Each whole day before ``day`` goes as its partition: detached first, CONCURRENTLY (DROP TABLE of a partition
        locks the whole records table, so every batch waited behind it), then, in one transaction, its records leave
        the rollups and the table is dropped. A day left detached (a prune that stopped between) is finished here."""
        deleted = 0
        for name, attached, pending in self._old_days(day):
            if attached:
                self._detach(name, pending)
            with self._transaction() as tx:
                tx.rows("SELECT pg_advisory_xact_lock(?)", (_DROP_LOCK,))  # another instance's prune counts a day out too
                if tx.rows("SELECT to_regclass(?)", (name,))[0][0] is None:
                    continue  # dropped by that other prune
                delta = Delta()  # a dropped partition's records leave the rollups too, in the same transaction
                for chunk in tx.each(f"SELECT {', '.join(ROLLED)} FROM {name}"):
                    deleted += delta.add(chunk, -1)
                delta.apply(tx)
                tx.many(f"DROP TABLE {name}", [()])
        self._days.clear()
        return deleted

    def _old_days(self, day: str) -> list[tuple[str, bool, bool]]:
        """The day tables before ``day``, attached or left detached: (name, attached, its detach pending)."""
        return [(name, bool(attached), bool(pending)) for name, attached, pending in self._read(
            "SELECT c.relname, i.inhrelid IS NOT NULL, COALESCE(i.inhdetachpending, false) FROM pg_class c"
            " LEFT JOIN pg_inherits i ON i.inhrelid = c.oid WHERE c.relkind = 'r' AND c.relname ~ '^records_[0-9]{8}$'"
            " AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'records'::regclass) AND c.relname < ?"
            " ORDER BY 1", (_partition_name(day),))]  # fmt: skip

    def _detach(self, name: str, pending: bool) -> None:
        """Take a day's partition out of the records table without stopping its writers (PostgreSQL 14 or newer); a
        detach that stopped halfway is finished. If another instance got there first, the drop that follows sees it."""
        with self._connection() as conn:
            conn.autocommit = True  # DETACH … CONCURRENTLY runs outside a transaction
            try:
                conn.execute(f"ALTER TABLE records DETACH PARTITION {name} {'FINALIZE' if pending else 'CONCURRENTLY'}")
            except self._psycopg.Error:  # no longer attached, being detached by another instance, or PostgreSQL 13:
                pass  # the drop that follows then takes the whole table's lock, as it did before
            finally:
                conn.autocommit = False

    def close(self) -> None:
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None


def _trace_lock(trace: str) -> int:
    """A trace's advisory lock key: 31 bits of a hash of its whole id (two traces sharing a key wait for each other, and
    not every generator makes ids random to the end: a counter or zeros in the last bytes made every batch wait)."""
    return zlib.crc32(trace.encode()) & 0x7FFFFFFF


def _partition_name(day: str) -> str:
    return "records_" + day.replace("-", "")


def _partition_sql(day: str) -> str:
    first = date.fromisoformat(day)  # started_at is checked to be RFC 3339 before any write
    return (f"CREATE TABLE IF NOT EXISTS {_partition_name(day)} PARTITION OF records"
            f" FOR VALUES FROM ('{first.isoformat()}') TO ('{(first + timedelta(days=1)).isoformat()}')")  # fmt: skip


def _migrate_unpartitioned(cursor: Any) -> None:
    """A database made before records were partitioned: move its rows into the partitioned table, once."""
    cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'records' AND relnamespace = 'public'::regnamespace")
    row = cursor.fetchone()
    if row is None or row[0] != "r":
        return
    cursor.execute("ALTER TABLE records RENAME TO records_unpartitioned")
    cursor.execute("ALTER INDEX IF EXISTS records_key RENAME TO records_unpartitioned_key")
    for index in ("records_project_time", "records_session", "records_user", "records_time"):
        cursor.execute(f"DROP INDEX IF EXISTS {index}")
    cursor.execute(_RECORDS)
    cursor.execute("SELECT DISTINCT substr(started_at, 1, 10) FROM records_unpartitioned")
    for (day,) in cursor.fetchall():
        cursor.execute(_partition_sql(day))
    cursor.execute(_KEY)
    first = ", ".join([c for c in COLUMNS if c not in ADDED_COLUMNS] + ["record"])  # what an unpartitioned table had
    cursor.execute(f"INSERT INTO records ({first}) SELECT {first} FROM records_unpartitioned ON CONFLICT DO NOTHING")
    cursor.execute("DROP TABLE records_unpartitioned")


def _pg(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the shared SQL has no literal ``?`` or ``%``)."""
    return sql.replace("?", "%s")
