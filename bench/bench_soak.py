"""A soak of ``otel-aitracer serve``: minutes of ingest at a steady share of its peak, with a reader.

Starts serve (2 workers, SQLite unless ``--postgres``), measures the peak for 20 s, then sends
OTLP protobuf batches of 512 chat spans at ``--share`` of it (default 80 %) for ``--minutes``
(default 10) while a reader asks ``stats`` and a page of ``logs`` every 2 s. Every 30 s it
prints one line of the curve: spans/s, ingest p50/p99, reader p99, the workers' total RSS
and the store's size. Batches reuse prebuilt bodies with fresh ids (the id prefixes are
rewritten in place, after 10 random bytes), so every span is new. Asserts nothing.

    .venv/bin/python bench/bench_soak.py [--minutes 10] [--share 0.8 | --rate SPANS_PER_S] [--postgres]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
from bench_server import SPANS_PER_REQUEST, chat_span  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans  # noqa: E402

HEADERS = {"Content-Type": "application/x-protobuf"}
_PREFIX = 6  # bytes of each id that a body shares and that are rewritten for every send


def build_templates(count: int) -> list[tuple[bytes, bytes]]:
    """Uncompressed bodies whose span and trace ids all end with the body's own 6 bytes (rewritten per send). Random
    bytes first, as in real ids: with the body's bytes first, its spans' keys sat side by side at the end of the key
    index (sparing SQLite the random writes real ids cost it) and shared PostgreSQL's trace locks across sends."""
    import random

    rng = random.Random(11)
    templates, start = [], time.time_ns()
    for _ in range(count):
        prefix, spans = rng.randbytes(_PREFIX), []
        for n in range(SPANS_PER_REQUEST):
            start += 1_000_000
            span = chat_span(rng, start)
            span.trace_id, span.span_id = rng.randbytes(10) + prefix, n.to_bytes(2, "big") + prefix
            spans.append(span)
        request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
        templates.append((prefix, request.SerializeToString()))
    return templates


def _rss_mib(pid: int) -> float:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [int(p) for p in children.read_text().split()] if children.exists() else [pid]
    total = 0
    for p in pids or [pid]:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


class Load:
    def __init__(self, url: str, templates: list[tuple[bytes, bytes]]) -> None:
        self.url, self.templates = url, templates
        self.latencies: list[float] = []
        self.reads: list[float] = []
        self.spans = 0
        self.lock = threading.Lock()
        self.counter = itertools.count(1)

    def body(self) -> bytes:
        n = next(self.counter)
        prefix, body = self.templates[n % len(self.templates)]
        return body.replace(prefix, n.to_bytes(_PREFIX, "big"))

    def send(self, client: httpx.Client) -> None:
        body = self.body()
        started = time.perf_counter()
        answer = client.post("/v1/traces", content=body, headers=HEADERS)
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise RuntimeError(answer.text[:200])
        with self.lock:
            self.latencies.append(elapsed)
            self.spans += SPANS_PER_REQUEST


def run(url: str, load: Load, seconds: float, rate: float | None, curve: list[str] | None = None, pid: int = 0, store: str = "") -> float:
    """Send for ``seconds`` (as fast as 8 connections go, or ``rate`` spans/s); returns spans/s."""
    stop = threading.Event()
    interval = None if rate is None else SPANS_PER_REQUEST / rate * 8

    def sender() -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            next_at = time.perf_counter()
            while not stop.is_set():
                load.send(client)
                if interval is not None:
                    next_at += interval
                    time.sleep(max(0.0, next_at - time.perf_counter()))

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(8)]
    started = time.perf_counter()
    spans_before = load.spans
    for thread in threads:
        thread.start()
    window_start, window_spans = time.perf_counter(), load.spans
    while time.perf_counter() - started < seconds:
        time.sleep(1)
        if curve is not None and time.perf_counter() - window_start >= 30:
            with load.lock:
                lat, reads, spans = sorted(load.latencies), sorted(load.reads), load.spans
                load.latencies, load.reads = [], []
            now = time.perf_counter()
            size = sum(f.stat().st_size for f in Path(store).parent.glob(Path(store).name + "*")) / 2**20 if store else 0.0
            curve.append(f"| {now - started:5.0f} | {(spans - window_spans) / (now - window_start):8,.0f} | {statistics.median(lat) * 1000:6.0f} | "
                         f"{lat[int(0.99 * (len(lat) - 1))] * 1000:6.0f} | {(reads[int(0.99 * (len(reads) - 1))] * 1000 if reads else 0):6.0f} | "
                         f"{_rss_mib(pid):7.0f} | {size:8.0f} |")  # fmt: skip
            print(curve[-1], flush=True)
            window_start, window_spans = now, spans
    stop.set()
    for thread in threads:
        thread.join()
    return (load.spans - spans_before) / (time.perf_counter() - started)


def reader(url: str, load: Load, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        while not stop.wait(2.0):
            for path in ("/api/v1/stats?by=model", "/api/v1/logs?limit=100"):
                started = time.perf_counter()
                client.get(path)
                with load.lock:
                    load.reads.append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--share", type=float, default=0.8)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--rate", type=float, help="soak at this many spans/s instead of --share of the measured peak")
    args = parser.parse_args()
    from tests.postgres_server import PostgresServer
    from tests.server_process import ServerProcess

    templates = build_templates(64)
    with tempfile.TemporaryDirectory() as tmp, PostgresServer() if args.postgres else nullcontext() as postgres:
        store = postgres.new_database("soak") if postgres is not None else str(Path(tmp) / "soak.db")
        server = ServerProcess(store, workers=2)
        try:
            load = Load(server.url, templates)
            peak = run(server.url, load, 20, None)
            target = args.rate or peak * args.share
            print(f"{'PostgreSQL' if args.postgres else 'SQLite'}, 2 workers: peak {peak:,.0f} spans/s; soak at {target:,.0f} spans/s for {args.minutes:g} min")
            print("| s | spans/s | p50 ms | p99 ms | reader p99 ms | workers RSS MiB | store MiB |\n|---|---|---|---|---|---|---|", flush=True)
            load.latencies, load.reads = [], []
            stop_reader = threading.Event()
            threading.Thread(target=reader, args=(server.url, load, stop_reader), daemon=True).start()
            curve: list[str] = []
            run(server.url, load, args.minutes * 60, target, curve, server.process.pid, "" if postgres else store)
            stop_reader.set()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
