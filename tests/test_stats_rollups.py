"""``stats`` reads rollups kept as records come and go (SPEC §6): they must always equal the records they summarise."""

from __future__ import annotations

import random
import sqlite3
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from otel_aitracer._destinations._rollups import latency_bucket
from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer.cli._stats import GROUPS


@pytest.fixture
def db(records_db):
    return records_db


def _at(days_ago: float, second: int = 0) -> str:
    when = datetime(2026, 11, 20, tzinfo=timezone.utc) - timedelta(days=days_ago) + timedelta(seconds=second)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _records(rng: random.Random, n: int, prefix: str, days_ago: float = 0) -> list[dict]:
    return [
        {"project": rng.choice(["chatbot", "search", "ops"]), "trace_id": f"{prefix}{i // 3:030d}", "span_id": f"{prefix}{i:014d}",
         "parent_span_id": None if i % 3 == 0 else f"{prefix}{i - i % 3:014d}", "operation": "chat", "started_at": _at(days_ago, i),
         "model": rng.choice(["gpt-4o", "claude", None]), "session_id": rng.choice(["s1", "s2", "", None]),
         "app_user_id": rng.choice(["u1", None]), "status": rng.choice(["success", "error", None]),
         "latency_ms": rng.choice([None, 0, 7, 99, 100, 101, 250, 1234, 99_999, rng.randint(1, 5000)]),
         "input_tokens": rng.choice([None, 0, rng.randint(1, 900)]), "output_tokens": rng.choice([None, rng.randint(1, 400)]),
         "cost": rng.choice([None, 0.0, rng.random() / 100])}
        for i in range(n)
    ]  # fmt: skip


def _truth(records: list[dict], by: str, projects: set[str] | None) -> dict:
    """What stats must say, computed from the records themselves."""
    column = GROUPS[by]
    groups: dict = defaultdict(list)
    for r in records:
        if projects is None or r["project"] in projects:
            groups[r.get(column)].append(r)
    answer = {}
    for group, rows in groups.items():
        costs = [r["cost"] for r in rows if r.get("cost") is not None]
        latencies = sorted(r.get("latency_ms") or 0 for r in rows)
        answer[group] = {"requests": len(rows), "errors": sum(r.get("status") == "error" for r in rows),
                         "input_tokens": sum(r.get("input_tokens") or 0 for r in rows), "output_tokens": sum(r.get("output_tokens") or 0 for r in rows),
                         "cost": round(sum(costs), 9) if costs else None,
                         "p50_latency_ms": latencies[(50 * len(rows) + 99) // 100 - 1], "p95_latency_ms": latencies[(95 * len(rows) + 99) // 100 - 1]}  # fmt: skip
    return answer


def _check(db, records: list[dict]) -> None:
    for by in GROUPS:
        for projects in (None, {"chatbot", "ops"}):
            got = {row["group"]: row for row in db.stats(GROUPS[by], projects=sorted(projects) if projects else None)}
            want = _truth(records, by, projects)
            assert set(got) == set(want), (by, projects)
            for group, expected in want.items():
                row = got[group]
                for field in ("requests", "errors", "input_tokens", "output_tokens"):
                    assert row[field] == expected[field], (by, group, field)
                assert (row["cost"] is None) == (expected["cost"] is None) and row["cost"] == pytest.approx(expected["cost"], abs=1e-9)
                for field in ("p50_latency_ms", "p95_latency_ms"):  # a 2 % band's middle: within 1.5 %
                    assert row[field] == latency_bucket(expected[field]) and abs(row[field] - expected[field]) <= 0.015 * expected[field] + 0.5


def test_stats_equal_the_records_through_writes_duplicates_folds_and_retention(db):
    rng = random.Random(7)
    old, recent = _records(rng, 700, "a", days_ago=40), _records(rng, 600, "b")
    assert db.write(old + recent) == 1300
    _check(db, old + recent)
    assert db.write(recent[:50] + old[:10]) == 0  # a span sent again changes nothing
    _check(db, old + recent)

    folded = [(r["project"], r["trace_id"], r["span_id"], "chat") for r in recent[:30:3]]  # outer calls folded into inner ones
    with db.settling({key[1] for key in folded}) as stored:
        assert len(stored.pop_calls(folded)) == 10
    kept = [r for r in recent if (r["project"], r["trace_id"], r["span_id"], "chat") not in set(folded)]
    _check(db, old + kept)

    assert db.prune(_at(30), project="chatbot") == sum(r["project"] == "chatbot" for r in old)
    _check(db, [r for r in old if r["project"] != "chatbot"] + kept)
    assert db.prune(_at(30)) > 0  # every project: on PostgreSQL, whole days go as partitions
    _check(db, kept)
    assert db.stats("model", project="nobody") == []


def test_huge_token_counts_add_up_without_overflow(db):
    big = 2**63 - 1
    records = [{"project": "p", "trace_id": f"{i:032x}", "span_id": f"{i:016x}", "started_at": _at(0, i), "model": "m",
                "input_tokens": big, "output_tokens": big, "cost": 1e300} for i in range(3)]  # fmt: skip
    assert db.write(records) == 3
    [row] = db.stats("model")
    assert row["requests"] == 3 and row["input_tokens"] >= 3 * big * 0.999 and row["cost"] == pytest.approx(3e300)


def test_stats_by_model_or_project_never_reads_the_records(tmp_path):
    """The reason rollups exist: the answer costs the groups, not the records (1M records: seconds before, milliseconds now)."""
    store = SQLiteStore(tmp_path / "s.db")
    store.write(_records(random.Random(1), 50, "c"))
    read: list[str] = []
    store._read_connection().set_trace_callback(read.append)
    assert store.stats("model") and store.stats("project")
    assert read and not [sql for sql in read if "FROM records" in sql]


def test_a_store_written_before_rollups_gets_them_on_open(tmp_path):
    path = tmp_path / "old.db"
    records = _records(random.Random(3), 40, "d")
    SQLiteStore(path).write(records)
    with sqlite3.connect(path) as conn:  # as a schema-4 store left it: no rollups
        conn.executescript("DROP TABLE rollup_totals; DROP TABLE rollup_latency; PRAGMA user_version = 4;")
    _check(SQLiteStore(path), records)
