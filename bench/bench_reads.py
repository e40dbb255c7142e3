"""Reads of ``otel-aitracer serve`` over a big store: ``stats`` and a page of ``logs``, time and worker memory.

Fills a store with N records (default 1,000,000: 20 models, 300 projects, 5,000 sessions,
a 300-byte prompt each) straight through the store's ``write``, starts a real serve with
one worker, then asks ``GET /api/v1/stats`` (by model, project and session) and
``GET /api/v1/logs?limit=1000`` three times each, printing the best time and the worker's
RSS growth (its peak, VmHWM, reset before each read). Asserts nothing.

    .venv/bin/python bench/bench_reads.py [--records 1000000] [--postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from otel_aitracer._destinations._pg_store import PostgresStore  # noqa: E402
from otel_aitracer._destinations._store import SQLiteStore  # noqa: E402


def fill(store: SQLiteStore | PostgresStore, count: int) -> float:
    prompt = "Please summarise the attached quarterly report and list the three largest risks. " * 4
    started = time.perf_counter()
    for start in range(0, count, 10_000):
        store.write([
            {"project": f"team-{n % 300}", "span_id": f"{n:016x}", "trace_id": f"{n // 3:032x}", "operation": "chat", "model": f"model-{n % 20}",
             "provider": "openai", "status": "error" if n % 40 == 0 else "success", "session_id": f"s-{n % 5000}",
             "started_at": f"2026-11-{1 + n * 26 // count:02d}T{n % 24:02d}:{n % 60:02d}:{n % 59:02d}.{n % 1000000:06d}Z",
             "latency_ms": 200 + n * 7919 % 3000, "input_tokens": 300, "output_tokens": 120, "cost": 0.0004, "input": {"messages": [{"role": "user", "content": prompt}]}}
            for n in range(start, min(count, start + 10_000))
        ])  # fmt: skip
    return time.perf_counter() - started


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(url: str, pid: int, path: str) -> tuple[float, float]:
    """Best of three: seconds, and the worker's RSS growth in MiB."""
    best, growth = float("inf"), 0.0
    for _ in range(3):
        before = _kib(pid, "VmRSS")
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        started = time.perf_counter()
        answer = httpx.get(url + path, timeout=300)
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200, answer.text[:200]
        best, growth = min(best, elapsed), max(growth, (_kib(pid, "VmHWM") - before) / 1024)
    return best, growth


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    from tests.postgres_server import PostgresServer
    from tests.server_process import ServerProcess

    with tempfile.TemporaryDirectory() as tmp, PostgresServer() if args.postgres else nullcontext() as postgres:
        if args.postgres:
            location: str | Path = postgres.new_database("bench_reads")
            store: SQLiteStore | PostgresStore = PostgresStore(str(location))
        else:
            location = Path(tmp) / "reads.db"
            store = SQLiteStore(location)
        seconds = fill(store, args.records)
        store.close()
        print(f"{'PostgreSQL' if args.postgres else 'SQLite'}: {args.records:,} records written in {seconds:.0f} s")
        server = ServerProcess(location)
        try:
            print("| read | best of 3, s | worker RSS growth, MiB |\n|---|---|---|")
            for path in ("/api/v1/stats?by=model", "/api/v1/stats?by=project", "/api/v1/stats?by=session", "/api/v1/logs?limit=1000",
                         "/api/v1/logs?limit=1000&model=model-7"):  # fmt: skip
                elapsed, growth = measure(server.url, server.process.pid, path)
                print(f"| `{path}` | {elapsed:.2f} | {growth:.1f} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
