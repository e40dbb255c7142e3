"""Ingest throughput of ``otel-aitracer serve``: OTLP/HTTP protobuf (gzip) batches of 512 chat spans.

Realistic spans: GenAI attributes, input and output messages as JSON (about 1.5 KB per
span, one in four carrying an e-mail address or a phone number), redaction on, the
SQLite store. Every span has fresh ids, its own start time and its own answer text,
so nothing is skipped as a duplicate, the redaction cache only helps with what real
traffic repeats (the system prompt), and the time indexes grow as in a live service. A
thread pool posts the prebuilt bodies over keep-alive connections; the client runs on
the same machine, so it takes CPU from the server (printed: the client's CPU per span): the figures are a floor.
Also printed: the same work in-process (decode, map, redact, store) per span, which
is the ceiling one worker can reach. Prints a table; asserts nothing.

    .venv/bin/python bench/bench_server.py [--requests 120] [--workers 1 2] [--concurrency 8] [--repeat 3] [--postgres]
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span  # noqa: E402

SPANS_PER_REQUEST = 512
QUESTIONS = ["How do I reset my password?", "Summarise this contract clause about liability and indemnity in plain words.",
             "My email is jane.doe@example.com, please update my account.", "Call me back on +1 415 555 2671 tomorrow."]  # fmt: skip


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def chat_span(rng: random.Random, start: int) -> Span:
    question = rng.choice(QUESTIONS)
    system = "You are a helpful support assistant for ACME Corp. Answer briefly and cite the policy section. " * 3
    messages = [{"role": "system", "parts": [{"type": "text", "content": system}]}, {"role": "user", "parts": [{"type": "text", "content": question}]}]
    words = QUESTIONS[1].split() + [f"#{rng.randint(1000, 99999)}" for _ in range(6)]
    answer = [{"role": "assistant", "parts": [{"type": "text", "content": "Here is what you can do: " + " ".join(rng.choices(words, k=80))}],
               "finish_reason": "stop"}]  # fmt: skip
    attributes = [
        _kv("gen_ai.operation.name", "chat"), _kv("gen_ai.provider.name", "openai"), _kv("gen_ai.request.model", "gpt-4o-mini"),
        _kv("gen_ai.response.model", "gpt-4o-mini-2024-07-18"), _kv("gen_ai.usage.input_tokens", rng.randint(50, 900)),
        _kv("gen_ai.usage.output_tokens", rng.randint(20, 400)), _kv("gen_ai.input.messages", orjson.dumps(messages).decode()),
        _kv("gen_ai.output.messages", orjson.dumps(answer).decode()), _kv("session.id", f"s-{rng.randint(1, 500)}"),
        _kv("user.id", f"u-{rng.randint(1, 200)}"), _kv("server.address", "api.openai.com"),
    ]  # fmt: skip
    return Span(name="chat gpt-4o-mini", kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=start, end_time_unix_nano=start + 800_000_000, attributes=attributes)


def build_bodies(count: int, seed: int = 7) -> list[bytes]:
    """``count`` gzip protobuf requests of 512 spans: fresh ids, times and answers (nothing a cache could replay)."""
    rng = random.Random(seed)
    bodies = []
    start = time.time_ns()
    for _ in range(count):
        spans = []
        for _ in range(SPANS_PER_REQUEST):
            start += 1_000_000  # calls end one after another, as in a live service
            span = chat_span(rng, start)
            span.trace_id, span.span_id = rng.randbytes(16), rng.randbytes(8)
            spans.append(span)
        request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
        bodies.append(gzip.compress(request.SerializeToString(), compresslevel=6))
    return bodies


def run_server(bodies: list[bytes], workers: int, concurrency: int, postgres: object | None = None) -> dict[str, float]:
    from tests.server_process import ServerProcess

    with tempfile.TemporaryDirectory() as tmp:
        store = postgres.new_database(f"bench_{workers}") if postgres is not None else Path(tmp) / "bench.db"  # type: ignore[attr-defined]
        server = ServerProcess(store, workers=workers)
        try:
            headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
            clients = [httpx.Client(base_url=server.url, timeout=120) for _ in range(concurrency)]
            for c in clients:  # warm up each connection (and each worker's first request)
                assert c.post("/v1/traces", content=bodies[0], headers=headers).status_code == 200
            latencies: list[float] = []

            def send(i: int) -> None:
                started = time.perf_counter()
                answer = clients[i % concurrency].post("/v1/traces", content=bodies[i], headers=headers)
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text

            cpu_before, client_before = _cpu_seconds(server.process.pid), time.process_time()
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(send, range(1, len(bodies))))
            elapsed = time.perf_counter() - started
            cpu, client_cpu = _cpu_seconds(server.process.pid) - cpu_before, time.process_time() - client_before
            for c in clients:
                c.close()
        finally:
            server.stop()
        stored = _stored(store)
    latencies.sort()
    spans = (len(bodies) - 1) * SPANS_PER_REQUEST
    sent = len(bodies) * SPANS_PER_REQUEST  # every span once; the first body, sent by each connection, stored once
    return {"spans_per_s": spans / elapsed, "cpu_us_per_span": cpu / spans * 1e6, "client_cpu_us_per_span": client_cpu / spans * 1e6, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000, "lost": max(0, sent - stored), "duplicated": max(0, stored - sent)}  # fmt: skip


def _stored(store: object) -> int:
    """Records in the store after serve stopped, counted by the store's own reader."""
    from otel_aitracer._destinations._open import open_records_db

    opened = open_records_db(store)  # type: ignore[arg-type]
    try:
        return opened.count()
    finally:
        opened.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the uvicorn workers), from /proc."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()] if Path(f"/proc/{pid}/task/{pid}/children").exists() else [pid]
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def in_process(bodies: list[bytes]) -> float:
    """µs per span for decode + map + redact + dedupe + store, without HTTP: one worker's ceiling."""
    from otel_aitracer._config import resolve_settings
    from otel_aitracer._destinations._store import SQLiteStore
    from otel_aitracer._recording._pipeline import RecordPipeline
    from otel_aitracer.server._auth import OPEN
    from otel_aitracer.server._ingest import Ingest
    from otel_aitracer.server._otlp import parse_request

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "inproc.db")
        ingest = Ingest(store, RecordPipeline(resolve_settings(store=Path(tmp) / "inproc.db"), sink=store))
        sample = bodies[: max(4, len(bodies) // 10)]
        started = time.perf_counter()
        for body in sample:
            ingest.otlp(parse_request(gzip.decompress(body), "application/x-protobuf"), OPEN)
        return (time.perf_counter() - started) / (len(sample) * SPANS_PER_REQUEST) * 1e6


def stages(bodies: list[bytes]) -> dict[str, float]:
    """µs per span of each ingest stage, in the order ``Ingest.otlp`` runs them over the same requests, with the
    garbage-collector settings of a serve worker: decode (gzip, protobuf, spans), map (span -> record, pricing
    included), price (pricing alone, again), check + redact + budget, dedupe (outer calls, against the store),
    score, insert (rows, rollups, commit)."""
    import gc

    from otel_aitracer._config import resolve_settings
    from otel_aitracer._destinations._store import SQLiteStore
    from otel_aitracer._recording._mapping import span_to_record
    from otel_aitracer._recording._pipeline import RecordPipeline
    from otel_aitracer._recording._pricing import cost_usd
    from otel_aitracer.server._dedupe import drop_outer_duplicates
    from otel_aitracer.server._otlp import parse_request, spans

    sample = bodies[: max(4, len(bodies) // 3)]
    timings: dict[str, float] = {}

    def timed(name: str, work):  # type: ignore[no-untyped-def]
        started = time.process_time()
        result = work()
        timings[name] = timings.get(name, 0.0) + time.process_time() - started
        return result

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)  # as a serve worker sets them
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = RecordPipeline(resolve_settings(store=Path(tmp) / "stages.db"), sink=None)
        store = SQLiteStore(Path(tmp) / "stages.db", cache_mib=32)
        for body in sample:
            decoded = timed("decode", lambda: list(spans(parse_request(gzip.decompress(body), "application/x-protobuf"))))  # noqa: B023
            records = timed("map", lambda: [span_to_record(s) for s in decoded])  # noqa: B023
            timed("price", lambda: [cost_usd(r["model"], r["provider"], r["input_tokens"], r["output_tokens"]) for r in records])  # noqa: B023
            prepared = timed("check + redact + budget", lambda: [pipeline.prepare(r) for r in records])  # noqa: B023
            kept = timed("dedupe", lambda: _deduplicated(store, drop_outer_duplicates(decoded, prepared)[0]))  # noqa: B023
            timed("score", lambda: [pipeline.scorer.score(r) for r in kept])  # noqa: B023
            timed("insert", lambda: store.write(kept))  # noqa: B023
        store.close()
    gc.unfreeze()
    return {name: seconds / (len(sample) * SPANS_PER_REQUEST) * 1e6 for name, seconds in timings.items()}


def _deduplicated(store: object, records: list[dict]) -> list[dict]:
    """Ingest's deduplication against the store, in a transaction of its own (ingest runs it in the write's)."""
    from otel_aitracer.server._dedupe import against_store

    with store.settling({r["trace_id"] for r in records}) as stored:  # type: ignore[attr-defined]
        return against_store(stored, records)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", action="store_true", help="store in a local PostgreSQL (started here) instead of SQLite")
    parser.add_argument("--repeat", type=int, default=3, help="runs per worker count (this machine's noise is ±20 %%): each, then the median")
    args = parser.parse_args()
    bodies = build_bodies(args.requests + 1)
    print(f"{SPANS_PER_REQUEST} spans per request, {len(bodies[0]) / 1024:.0f} KiB gzip, "
          f"{args.requests} requests, concurrency {args.concurrency}, {os.cpu_count()} CPUs shared with the client")  # fmt: skip
    print(f"in-process ingest (one worker's ceiling): {in_process(bodies):.1f} µs/span")
    print("per stage, µs/span: " + ", ".join(f"{name} {us:.1f}" for name, us in stages(bodies).items()))
    print("| workers | spans/s | server CPU µs/span | client CPU µs/span | p50 ms/request | p99 ms/request | lost | duplicated |\n|---|---|---|---|---|---|---|---|")
    from contextlib import nullcontext

    from tests.postgres_server import PostgresServer

    with PostgresServer() if args.postgres else nullcontext() as postgres:
        for workers in args.workers:
            runs = [run_server(bodies, workers, args.concurrency, postgres) for _ in range(args.repeat)]
            for result in runs:
                print(f"| {workers} | {result['spans_per_s']:,.0f} | {result['cpu_us_per_span']:.0f} | {result['client_cpu_us_per_span']:.1f} | {result['p50_ms']:.0f} | {result['p99_ms']:.0f} | {result['lost']:.0f} | {result['duplicated']:.0f} |")
            if len(runs) > 1:
                median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
                print(f"| {workers}, median of {len(runs)} | **{median['spans_per_s']:,.0f}** | {median['cpu_us_per_span']:.0f} | {median['client_cpu_us_per_span']:.1f} | {median['p50_ms']:.0f} | {median['p99_ms']:.0f} | {sum(r['lost'] for r in runs):.0f} in all | {sum(r['duplicated'] for r in runs):.0f} in all |")


if __name__ == "__main__":
    main()
