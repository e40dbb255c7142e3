"""Retention (SPEC §6): ``prune`` on both engines, serve's ``--retention-days`` / ``AITRACER_RETENTION``, the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from otel_aitracer._destinations._retention import Retention
from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer.exceptions import ConfigurationError

from .helpers import clean_env
from .server_process import ServerProcess


def _at(days_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _records(project: str, days_ago: float, n: int, prefix: str) -> list[dict]:
    return [{"project": project, "span_id": f"{prefix}{i:012d}", "trace_id": f"{prefix}{i:028d}", "operation": "chat", "model": "m",
             "started_at": _at(days_ago)} for i in range(n)]  # fmt: skip


@pytest.fixture
def store(records_db):
    return records_db


def _projects(db) -> dict[str, int]:
    rows = db.stats("project")
    return {row["group"]: row["requests"] for row in rows}


def test_prune_deletes_old_records_in_batches_by_project(store):
    store.write(_records("chatbot", 40, 1234, "c000") + _records("chatbot", 1, 3, "c001") + _records("search", 40, 5, "s000"))
    store.write_events([{"type": "feedback", "project": "chatbot", "session_id": "s", "timestamp": _at(40), "log_id": "x"}])
    assert store.prune(_at(30), project="chatbot") == 1234  # more than two batches of 500
    assert _projects(store) == {"chatbot": 3, "search": 5} and store.session_events() == []
    assert store.prune(_at(30), exclude=["search"]) == 0 and store.prune(_at(30)) == 5
    assert _projects(store) == {"chatbot": 3}


def test_a_retention_policy_gives_named_projects_their_own_days(store):
    store.write(_records("chatbot", 20, 2, "c000") + _records("search", 10, 2, "s000") + _records("search", 3, 1, "s001")
                + _records("other", 40, 2, "o000") + _records("other", 20, 1, "o001"))  # fmt: skip
    deleted = Retention.parse(30, "chatbot=60,search=7").prune(store)
    assert deleted == 4 and _projects(store) == {"chatbot": 2, "search": 1, "other": 1}


@pytest.mark.parametrize(("days", "spec"), [(0, None), (-1, None), (None, "chatbot"), (None, "chatbot=x"), (None, "=5"), (None, "a=0")])
def test_a_bad_retention_is_a_clear_error(days, spec):
    with pytest.raises(ConfigurationError, match="retention|RETENTION"):
        Retention.parse(days, spec)


def test_serve_prunes_in_the_background(tmp_path):
    path = tmp_path / "server.db"
    db = SQLiteStore(path)
    db.write(_records("chatbot", 45, 3, "c000") + _records("chatbot", 1, 1, "c001") + _records("search", 10, 2, "s000") + _records("search", 1, 1, "s001"))
    db.close()
    server = ServerProcess(path, extra_env={"AITRACER_SERVER_RETENTION_DAYS": "30", "AITRACER_RETENTION": "search=7"})
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            stats = {r["project"]: r["requests"] for r in httpx.get(server.url + "/api/v1/stats", timeout=10).json()["stats"]}
            if stats == {"chatbot": 1, "search": 1}:
                break
            time.sleep(0.2)
        assert stats == {"chatbot": 1, "search": 1}
    finally:
        server.stop()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "otel_aitracer", *args], capture_output=True, text=True, env=clean_env(), timeout=60)


def test_the_prune_command(tmp_path):
    path = tmp_path / "aitracer.db"
    db = SQLiteStore(path)
    db.write(_records("chatbot", 40, 2, "c000") + _records("search", 40, 1, "s000") + _records("search", 1, 1, "s001"))
    db.close()
    done = _cli("prune", "--older-than", "30d", "--project", "chatbot", "--store", str(path))
    assert done.returncode == 0 and done.stdout.startswith("deleted 2 records"), done.stderr
    done = _cli("prune", "--older-than", "720h", "--store", str(path))
    assert done.returncode == 0 and done.stdout.startswith("deleted 1 records")
    assert _projects(SQLiteStore(path)) == {"search": 1}
    bad = _cli("prune", "--older-than", "30x", "--store", str(path))
    assert bad.returncode == 2 and "30d, 12h or 90m" in bad.stderr


def test_serve_refuses_a_bad_retention_with_a_clear_message(tmp_path):
    done = subprocess.run([sys.executable, "-m", "otel_aitracer", "serve", "--store", str(tmp_path / "s.db"), "--port", "0"],
                          capture_output=True, text=True, env=clean_env(AITRACER_RETENTION="chatbot=soon"), timeout=60)  # fmt: skip
    assert done.returncode == 2 and "AITRACER_RETENTION" in done.stderr
