"""The embedded SQLite store: round trips, filters, duplicates."""

from __future__ import annotations

import sqlite3

import pytest

from otel_aitracer._destinations._store import SQLiteStore


def record(i, **overrides):
    base = {
        "project": "p", "model": "gpt-4o-mini", "provider": "openai", "operation": "chat", "status": "success",
        "input": {"messages": [{"role": "user", "content": f"q{i}"}]}, "output": {"role": "assistant", "content": "ünïcode ✓"},
        "input_tokens": 10 + i, "output_tokens": 5, "latency_ms": 100 * i, "metadata": {"i": i},
        "trace_id": f"{i:032x}", "span_id": f"{i:016x}", "parent_span_id": None, "session_id": "s", "app_user_id": "u",
        "started_at": f"2026-01-01T00:00:{i:02d}.000000Z", "cost": 0.001 * i,
    }  # fmt: skip
    return {**base, **overrides}


def test_round_trip_keeps_every_field(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    records = [record(i) for i in range(3)]
    store.write(records)
    assert SQLiteStore(tmp_path / "s.db").query(newest_first=False) == records


def test_filters_and_limit(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.write([record(1, app_user_id="alice"), record(2, app_user_id="bob", status="error"), record(3, app_user_id="alice", model="gpt-4o")])
    assert [r["span_id"] for r in store.query(user="alice")] == [f"{3:016x}", f"{1:016x}"]
    assert [r["status"] for r in store.query(status="error")] == ["error"]
    assert len(store.query(user="alice", model="gpt-4o")) == 1
    assert len(store.query(limit=2)) == 2


def test_same_span_twice_is_stored_once(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.write([record(1)])
    store.write([record(1, model="changed"), record(2)])
    assert store.count() == 2
    assert store.query(trace=f"{1:032x}")[0]["model"] == "gpt-4o-mini"


def test_store_uses_wal_and_indexes(tmp_path):
    SQLiteStore(tmp_path / "s.db")
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"records_project_time", "records_session", "records_user", "records_time"} <= indexes
    plan = " ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN SELECT record FROM records WHERE trace_id = 'x'"))
    assert "USING INDEX sqlite_autoindex_records_1" in plan  # the (trace_id, span_id) unique index serves trace lookups


def test_a_failed_batch_writes_nothing(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(sqlite3.Error):
        store.write([record(1), record(2, started_at=None)])  # NOT NULL violated mid-batch
    assert store.count() == 0


def test_a_store_of_schema_2_is_migrated_without_losing_records(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """CREATE TABLE records (span_id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, parent_span_id TEXT, project TEXT NOT NULL,
        session_id TEXT, app_user_id TEXT, model TEXT, provider TEXT, operation TEXT, status TEXT, started_at TEXT NOT NULL,
        latency_ms INTEGER, input_tokens INTEGER, output_tokens INTEGER, cost REAL, record BLOB NOT NULL);
        CREATE INDEX records_trace ON records (trace_id); PRAGMA user_version = 2;"""
    )
    conn.execute("INSERT INTO records (span_id, trace_id, project, started_at, record) VALUES ('s1', 't1', 'p', '2026-01-01T00:00:00Z', ?)",
                 (b'{"span_id": "s1", "trace_id": "t1", "project": "p"}',))  # fmt: skip
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    assert [r["span_id"] for r in store.query()] == ["s1"]
    assert store.write([{"span_id": "s1", "trace_id": "t1", "project": "p", "started_at": "2026-01-01T00:00:01Z"}]) == 0  # still a duplicate
    assert store.write([{"span_id": "s1", "trace_id": "t2", "project": "p", "started_at": "2026-01-01T00:00:01Z"}]) == 1  # another trace


def test_a_long_read_never_holds_up_a_write(tmp_path):
    """serve's stats and logs read while its ingest thread writes: the write must not wait for the read."""
    import threading
    import time

    store = SQLiteStore(tmp_path / "r.db")
    store.write([record(0)])
    read_done = threading.Event()

    def long_read():
        store._read("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) SELECT COUNT(*) FROM c")
        read_done.set()

    reader = threading.Thread(target=long_read)
    reader.start()
    time.sleep(0.3)  # the read is under way
    assert store.write([record(1)]) == 1
    assert not read_done.is_set()  # the write went through while the read was still running
    reader.join()
    store.close()
