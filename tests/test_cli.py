"""The otel-aitracer command, run as a subprocess against real SQLite files."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from otel_aitracer._destinations._rollups import latency_bucket
from otel_aitracer._destinations._store import SQLiteStore

from .helpers import ROOT


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otel_aitracer", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("demo") / "demo.db"
    result = cli("demo", "--store", str(store))
    assert result.returncode == 0, result.stderr
    return store, result.stdout


def test_demo_fills_the_store_and_prints_it(demo_store):
    store, output = demo_store
    records = SQLiteStore(store).query()
    assert len(records) == 7  # five OpenAI calls, then Claude and Gemini (both SDKs are in the dev install)
    assert {r["provider"] for r in records} == {"openai", "anthropic", "gemini"}
    assert {r["app_user_id"] for r in records} == {"alice", "bob", "carol"}
    assert {r["session_id"] for r in records} == {"sess-alice-1", "sess-bob-1", "sess-carol-1"}
    assert sum(r["status"] == "error" for r in records) == 1
    carol = [r for r in records if r["app_user_id"] == "carol"]
    assert all(r["pii"] == {"email": 1} and "carol@example.com" not in json.dumps(r) for r in carol)
    assert all(r["cost"] > 0 for r in records if r["status"] == "success")
    assert f"Recorded {len(records)} LLM calls" in output
    for record in records:
        assert record["trace_id"] in output


def test_logs_json_round_trips_the_store(demo_store):
    store, _ = demo_store
    result = cli("logs", "--store", str(store), "--json")
    assert json.loads(result.stdout) == SQLiteStore(store).query(limit=50)


def test_logs_filters(demo_store):
    store, _ = demo_store
    alice = json.loads(cli("logs", "--store", str(store), "--user", "alice", "--json").stdout)
    assert len(alice) == 2 and {r["app_user_id"] for r in alice} == {"alice"}
    errors = json.loads(cli("logs", "--store", str(store), "--status", "error", "--json").stdout)
    assert [r["model"] for r in errors] == ["error-429"]
    assert len(json.loads(cli("logs", "--store", str(store), "--limit", "1", "--json").stdout)) == 1
    table = cli("logs", "--store", str(store), "--session", "sess-bob-1").stdout
    assert table.count("sess-bob-1") == 3 and "sess-alice-1" not in table


def test_trace_prints_a_tree(demo_store):
    store, _ = demo_store
    records = SQLiteStore(store).query(user="bob")
    result = cli("trace", records[0]["trace_id"], "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("model=") == 3 and "ERROR" in result.stdout


def test_trace_nests_children_under_parents(tmp_path):
    store = SQLiteStore(tmp_path / "t.db")
    parent = _record(0, span_id="a" * 16, name="invoke_agent planner")
    child = _record(1, span_id="b" * 16, parent_span_id="a" * 16, name="chat gpt-4o-mini")
    store.write([child, parent])
    lines = cli("trace", parent["trace_id"], "--store", str(tmp_path / "t.db")).stdout.splitlines()
    assert lines[0].startswith("invoke_agent planner") and lines[1].startswith("  └─ chat gpt-4o-mini")


def test_unknown_trace_is_an_error(demo_store):
    store, _ = demo_store
    result = cli("trace", "0" * 32, "--store", str(store))
    assert result.returncode == 1 and "no records" in result.stderr


def _record(i, **overrides):
    base = {
        "project": "p", "model": "gpt-4o-mini", "provider": "openai", "operation": "chat", "status": "success",
        "input_tokens": 0, "output_tokens": 0, "latency_ms": 0, "metadata": {}, "trace_id": "f" * 32,
        "span_id": f"{i:016x}", "parent_span_id": None, "session_id": None, "app_user_id": None,
        "started_at": f"2026-01-01T00:00:{i % 60:02d}.{i:06d}Z",
    }  # fmt: skip
    return {**base, **overrides}


def test_stats_numbers_match_the_inputs(tmp_path):
    latencies = {"alice": [120, 80, 300, 95, 1000, 40, 60, 77, 500, 210], "bob": [15, 25]}
    records, i = [], 0
    for user, values in latencies.items():
        for n, latency in enumerate(values):
            i += 1
            records.append(
                _record(i, app_user_id=user, latency_ms=latency, input_tokens=10 * n, output_tokens=n, cost=0.25 * (n + 1), status="error" if n == 1 else "success")
            )
    SQLiteStore(tmp_path / "s.db").write(records)
    rows = {r["user"]: r for r in json.loads(cli("stats", "--by", "user", "--json", "--store", str(tmp_path / "s.db")).stdout)}
    for user, values in latencies.items():
        mine = [r for r in records if r["app_user_id"] == user]
        ordered = sorted(values)
        assert rows[user]["requests"] == len(values)
        assert rows[user]["input_tokens"] == sum(r["input_tokens"] for r in mine)
        assert rows[user]["output_tokens"] == sum(r["output_tokens"] for r in mine)
        assert rows[user]["cost"] == pytest.approx(sum(r["cost"] for r in mine))
        assert rows[user]["errors"] == 1
        assert rows[user]["p50_latency_ms"] == latency_bucket(ordered[math.ceil(0.5 * len(values)) - 1])  # exact below 100 ms
        assert rows[user]["p95_latency_ms"] == latency_bucket(ordered[math.ceil(0.95 * len(values)) - 1])  # within 1.5 % above
    table = cli("stats", "--by", "user", "--store", str(tmp_path / "s.db")).stdout
    assert table.splitlines()[0].split()[:2] == ["user", "requests"] and "alice" in table


def test_stats_by_model_and_project_filter(demo_store):
    store, _ = demo_store
    rows = json.loads(cli("stats", "--by", "model", "--json", "--store", str(store)).stdout)
    assert sum(r["requests"] for r in rows) == 7
    assert json.loads(cli("stats", "--by", "model", "--project", "nope", "--json", "--store", str(store)).stdout) == []


def test_missing_store_is_a_clear_error(tmp_path):
    result = cli("logs", "--store", str(tmp_path / "missing.db"))
    assert result.returncode == 2
    assert "no store at" in result.stderr and "Traceback" not in result.stderr


def test_bad_arguments_are_rejected():
    result = cli("stats", "--by", "planet")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_doctor_reports_destination(tmp_path):
    result = cli("doctor", "--json", env={"PATH": "/usr/bin:/bin", "AITRACER_STORE": str(tmp_path / "x.db")})
    report = json.loads(result.stdout)
    assert report["destination"] == f"local store {tmp_path / 'x.db'}"
    assert report["sdks"]["openai"]["status"] == "instrumented by register() when the app imports it"
    assert report["sdks"]["mcp"]["version"] is not None  # mcp comes with openai-agents in the dev install
    keyed_env = {"PATH": "/usr/bin:/bin", "AITRACER_API_KEY": "at-secret", "AITRACER_SPOOL_DIR": str(tmp_path / "spool")}
    keyed = json.loads(cli("doctor", "--json", env=keyed_env).stdout)
    assert keyed["destination"].startswith("AITracer API at https://api.aitracer.co")
    assert keyed["spool"]["path"].startswith(str(tmp_path / "spool")) and keyed["spool"]["pending_items"] == 0
    assert "at-secret" not in json.dumps(keyed)


def test_doctor_reports_pii_redaction_and_hides_the_salt(tmp_path):
    report = json.loads(cli("doctor", "--json", env={"PATH": "/usr/bin:/bin", "AITRACER_PII_SALT": "pepper-123"}).stdout)
    assert report["pii"].startswith("mask all types; candidates found by hyperscan ")  # the one-pass prefilter is on
    assert "pepper-123" not in json.dumps(report)
    env = {"PATH": "/usr/bin:/bin", "AITRACER_PII_ACTION": "hash", "AITRACER_PII_TYPES": "email,secret"}
    assert json.loads(cli("doctor", "--json", env=env).stdout)["pii"].startswith("hash email, secret; ")
    off = json.loads(cli("doctor", "--json", env={"PATH": "/usr/bin:/bin", "AITRACER_PII_DETECTION": "false"}).stdout)
    assert off["pii"].startswith("off")
