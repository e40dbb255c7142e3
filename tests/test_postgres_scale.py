"""PostgreSQL at scale (SPEC §6): daily partitions that retention drops, an old database migrated,
and two serve processes writing the same database at once."""

from __future__ import annotations

import json
import threading
import uuid

import httpx
import psycopg

from otel_aitracer._destinations._pg_store import PostgresStore
from otel_aitracer.server._dedupe import against_store

from .server_process import ServerProcess
from .test_serve_shared import chat_span, otlp


def _record(day: str, n: int, project: str = "p") -> dict:
    return {"project": project, "span_id": f"{n:016x}", "trace_id": f"{n:032x}", "operation": "chat", "model": "m", "started_at": f"{day}T12:00:00.000000Z"}


def _partitions(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
                            " WHERE p.relname = 'records' ORDER BY 1").fetchall()  # fmt: skip
    return [name for (name,) in rows]


def test_records_live_in_daily_partitions_and_retention_drops_whole_days(postgres):
    dsn = postgres.new_database("partitions")
    store = PostgresStore(dsn)
    store.write([_record("2026-01-01", n) for n in range(3)] + [_record("2026-01-02", n) for n in range(10, 12)] + [_record("2026-03-01", 20)])
    assert _partitions(dsn) == ["records_20260101", "records_20260102", "records_20260301"]
    assert store.prune("2026-01-02T06:00:00Z") == 3 + 0  # the whole first day dropped; nothing of the second is that old
    assert _partitions(dsn) == ["records_20260102", "records_20260301"] and store.count() == 3
    assert store.write([_record("2026-01-01", 99)]) == 1  # a late span of a dropped day makes its partition again
    store.close()


def test_a_database_from_before_partitioning_is_migrated_with_its_records(postgres):
    dsn = postgres.new_database("unpartitioned")
    with psycopg.connect(dsn) as conn:
        conn.execute("""CREATE TABLE records (span_id TEXT NOT NULL, trace_id TEXT NOT NULL, parent_span_id TEXT, project TEXT NOT NULL,
            session_id TEXT, app_user_id TEXT, model TEXT, provider TEXT, operation TEXT, status TEXT, started_at TEXT NOT NULL,
            latency_ms BIGINT, input_tokens BIGINT, output_tokens BIGINT, cost DOUBLE PRECISION, record BYTEA NOT NULL,
            UNIQUE (trace_id, span_id))""")  # fmt: skip
        for n, day in enumerate(("2025-12-30", "2025-12-31")):
            record = _record(day, n)
            conn.execute("INSERT INTO records (span_id, trace_id, project, started_at, record) VALUES (%s, %s, %s, %s, %s)",
                         (record["span_id"], record["trace_id"], "p", record["started_at"], json.dumps(record).encode()))  # fmt: skip
    store = PostgresStore(dsn)
    assert _partitions(dsn) == ["records_20251230", "records_20251231"]
    assert sorted(r["span_id"] for r in store.query()) == [f"{0:016x}", f"{1:016x}"]
    assert store.write([_record("2025-12-30", 0)]) == 0  # still known: the key came across
    store.close()


def test_two_serve_processes_share_one_database_and_keep_each_span_once(postgres):
    dsn = postgres.new_database("two_serves")
    servers = [ServerProcess(dsn, keys="at-k=alpha", workers=2) for _ in range(2)]
    trace = uuid.uuid4().hex
    batches = [[chat_span(trace, f"{b * 50 + n + 1:016x}") for n in range(50)] for b in range(20)]
    errors: list[str] = []

    def send(server, batch):
        answer = httpx.post(server.url + "/v1/traces", content=json.dumps(otlp(*batch)), headers={"Content-Type": "application/json",
                            "Authorization": "Bearer at-k"}, timeout=60)  # fmt: skip
        if answer.status_code != 200:
            errors.append(answer.text)

    try:  # every batch to both servers at once: each span arrives twice, concurrently
        threads = [threading.Thread(target=send, args=(server, batch)) for batch in batches for server in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        store = PostgresStore(dsn)
        assert store.count() == 1000 and len({r["span_id"] for r in store.query(limit=2000)}) == 1000
        store.close()
    finally:
        for server in servers:
            server.stop()


def test_two_writers_adding_to_the_same_sessions_in_opposite_orders_never_deadlock(postgres):
    """Two workers' batches of different traces run at once on PostgreSQL and add to the same sessions' rollups, one
    in the order the other reversed: each upsert locks the rows it adds to as it goes, so they must go in one order."""
    dsn = postgres.new_database("rollup_order")
    first, second = PostgresStore(dsn), PostgresStore(dsn)
    sessions = [f"s-{n:03d}" for n in range(300)]

    def batch(order):
        trace, models = uuid.uuid4().hex, ("m-a", "m-b") if order[0] == sessions[0] else ("m-b", "m-a")
        return [{"project": "p", "model": models[n % 2], "provider": "openai", "operation": "chat", "trace_id": trace, "span_id": f"{n:016x}",
                 "session_id": session, "started_at": "2026-01-01T00:00:00.000000Z", "latency_ms": 5, "input_tokens": 1,
                 "output_tokens": 1, "status": "success"} for n, session in enumerate(order)]  # fmt: skip

    first.write(batch(sessions))  # the sessions' rows exist: an upsert locks each as it updates it
    with psycopg.connect(dsn, autocommit=True) as conn:  # the middle session's sum takes a while: both writers get halfway
        conn.execute("CREATE FUNCTION slow_middle() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                     " IF NEW.value = 's-150' THEN PERFORM pg_sleep(0.3); END IF; RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER slow_middle BEFORE UPDATE ON rollup_totals FOR EACH ROW EXECUTE FUNCTION slow_middle()")
    failures = []
    for _ in range(3):
        start = threading.Barrier(2)

        def write(store, order, start=start):
            records = batch(order)
            try:
                store.write(records, lambda stored: (start.wait(), records)[1])
            except psycopg.Error as exc:
                failures.append(type(exc).__name__)

        threads = [threading.Thread(target=write, args=(first, sessions)), threading.Thread(target=write, args=(second, sessions[::-1]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    first.close()
    second.close()
    assert failures == []
    assert PostgresStore(dsn).count() == 7 * 300


def test_a_batch_of_today_never_waits_for_an_old_days_partition(postgres):
    """Settling a batch looks for its traces' records from a day before its earliest start, so it reads (and locks)
    only those days' partitions: a month of partitions costs a batch no more than two days do, and an old day locked
    alone (as REINDEX or VACUUM FULL of it would) holds up no batch of today."""
    dsn = postgres.new_database("old_days")
    store = PostgresStore(dsn)
    store.write([_record("2026-01-01", 1), _record("2026-01-30", 2)])
    done = threading.Event()
    with psycopg.connect(dsn) as holder:
        holder.execute("LOCK TABLE records_20260101 IN ACCESS EXCLUSIVE MODE")
        batch = [_record("2026-01-31", 3), _record("2026-01-31", 1)]
        writer = threading.Thread(target=lambda: (store.write(batch, lambda stored: against_store(stored, batch).kept), done.set()))
        writer.start()
        finished = done.wait(10)
    writer.join()
    assert finished, "the batch waited for a partition a month older than it"
    assert store.count() == 4  # span 1 of 2026-01-31 is another span than span 1 of 2026-01-01 (another start)
    store.close()


def test_dropping_an_old_day_never_holds_up_ingest(postgres):
    """DROP TABLE of a partition locks the whole records table: it waited for every batch in flight, and every batch
    that came meanwhile waited behind it. Retention detaches the day first (CONCURRENTLY), which stops no writer."""
    dsn = postgres.new_database("drop_days")
    store = PostgresStore(dsn)
    store.write([_record("2026-01-01", n) for n in range(3)] + [_record("2026-01-30", 9)])
    done, pruned = threading.Event(), []
    with psycopg.connect(dsn) as in_flight:  # a batch in flight: its transaction has read the records table
        in_flight.execute("SELECT count(*) FROM records WHERE started_at >= '2026-01-30'")
        pruning = threading.Thread(target=lambda: pruned.append(store.prune("2026-01-02T00:00:00Z")))
        pruning.start()
        pruning.join(0.5)  # retention now waits for the batch in flight
        writer = threading.Thread(target=lambda: (store.write([_record("2026-01-30", 10)]), done.set()))
        writer.start()
        finished = done.wait(10)
    pruning.join()
    writer.join()
    assert finished, "a batch waited behind retention dropping an old day"
    assert pruned == [3] and _partitions(dsn) == ["records_20260130"] and store.count() == 2
    assert [row["requests"] for row in store.stats("project")] == [2]
    store.close()


def test_a_day_left_detached_is_dropped_and_counted_out_by_the_next_prune(postgres):
    """Detaching and dropping are two steps: a day detached by a prune that then stopped (a crash, a restart) is
    finished by the next one, and its records leave the rollups once."""
    dsn = postgres.new_database("left_detached")
    store = PostgresStore(dsn)
    store.write([_record("2026-01-01", n) for n in range(3)] + [_record("2026-01-30", 9)])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE records DETACH PARTITION records_20260101")
    assert store.prune("2026-01-02T00:00:00Z") == 3
    assert [row["requests"] for row in store.stats("project")] == [1]
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT to_regclass('records_20260101')").fetchone() == (None,)
    assert store.prune("2026-01-02T00:00:00Z") == 0 and [row["requests"] for row in store.stats("project")] == [1]
    store.close()


def test_writers_of_traces_whose_ids_end_alike_do_not_wait_for_each_other(postgres):
    """A trace's lock is a hash of its whole id: ids that share their last bytes (a generator that puts a counter or a
    host id at the end, or zeros) still get their own locks, so their writers go on side by side."""
    dsn = postgres.new_database("trace_locks")
    first, second = PostgresStore(dsn), PostgresStore(dsn)
    entered, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold():
        with first.settling({"a" * 24 + "00000000"}):
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    entered.wait(10)
    writer = threading.Thread(target=lambda: (second.write([_record("2026-01-30", 1) | {"trace_id": "b" * 24 + "00000000"}]), done.set()))
    writer.start()
    finished = done.wait(5)
    release.set()
    holder.join()
    writer.join()
    first.close()
    second.close()
    assert finished, "a writer waited for another trace whose id ends the same way"
