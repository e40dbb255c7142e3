"""``otel-aitracer serve`` under hostile or heavy clients (SPEC §6): every request and read has a bound.

A real serve process; raw sockets for the clients a library would not let us write
(slow bodies, huge headers); the worker's RSS read from ``/proc`` around big reads.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import socket
import time
import uuid
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_aitracer._config import resolve_settings
from otel_aitracer._destinations._pg_store import PostgresStore
from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer._recording._pipeline import RecordPipeline
from otel_aitracer.server._auth import Keys
from otel_aitracer.server._grpc import start_grpc
from otel_aitracer.server._ingest import Ingest

from .server_process import ServerProcess, free_port
from .test_serve_shared import chat_span, otlp, trace_records

LIMITS = {"AITRACER_SERVER_READ_TIMEOUT": "1", "AITRACER_SERVER_MAX_CONNECTIONS": "20", "AITRACER_SERVER_MAX_RECORDS": "1000"}
KEY = {"Authorization": "Bearer at-alpha"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("limits") / "server.db", keys="at-alpha=alpha", extra_env=LIMITS)
    yield process
    process.stop()


def _raw(server, data: bytes, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.sendall(data)
    return sock


def _answer(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except (ConnectionResetError, TimeoutError):
        return b""
    finally:
        sock.close()


def test_healthz_tells_nothing_about_the_data(server):
    answer = httpx.get(server.url + "/healthz", timeout=10)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_every_member_of_a_multi_member_gzip_body_is_read(server):
    trace = uuid.uuid4().hex
    first = json.dumps(otlp(chat_span(trace, "1000000000000001", prompt="first")))
    # one JSON document split across two gzip members, as `cat a.gz b.gz` or a streaming compressor makes
    body = gzip.compress(first[:40].encode()) + gzip.compress(first[40:].encode())
    answer = httpx.post(server.url + "/v1/traces", content=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip", **KEY}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert [r["span_id"] for r in trace_records(server, trace, KEY)] == ["1000000000000001"]


def test_a_huge_header_is_refused_with_431_and_the_server_carries_on(server):
    sock = _raw(server, b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n")
    assert _answer(sock).startswith(b"HTTP/1.1 431")
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200


def test_a_slow_body_is_answered_408_after_the_read_timeout(server):
    sock = _raw(server, b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer at-alpha\r\n"
                        b"Content-Length: 1000\r\n\r\n{")  # fmt: skip
    started = time.monotonic()
    answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 5


def test_slow_headers_are_closed_after_the_read_timeout(server):
    sock = _raw(server, b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    assert _answer(sock) == b""  # closed: no answer is owed to half a request
    assert time.monotonic() - started < 5


def test_connections_past_the_cap_are_refused_not_held(server):
    slow = [_raw(server, b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer at-alpha\r\n"
                         b"Content-Length: 100\r\n\r\n{")
            for _ in range(60)]  # fmt: skip
    started = time.monotonic()
    answers = [_answer(sock) for sock in slow]
    assert time.monotonic() - started < 8  # nobody is held open past the read timeout
    statuses = sorted({a.split(b" ")[1] for a in answers if a})
    assert b"503" in statuses and b"408" in statuses, statuses
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200


def test_a_request_past_the_record_cap_is_a_413_before_any_work(server):
    logs = [{"model": "m", "span_id": f"{n:016x}"} for n in range(1001)]
    answer = httpx.post(server.url + "/api/v1/logs/batch/", json={"logs": logs}, headers=KEY, timeout=30)
    assert answer.status_code == 413 and "1000" in answer.json()["error"]
    trace = uuid.uuid4().hex
    spans = [chat_span(trace, f"{n + 1:016x}") for n in range(1001)]
    answer = httpx.post(server.url + "/v1/traces", content=json.dumps(otlp(*spans)), headers={"Content-Type": "application/json", **KEY}, timeout=30)
    assert answer.status_code == 413 and trace_records(server, trace, KEY) == []


# ---- reads over a big store keep the worker's memory flat ------------------------------------------
def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def _fill(store, count: int, text_bytes: int) -> None:
    blob = "x" * text_bytes
    for start in range(0, count, 5000):
        store.write([{"project": "alpha", "span_id": f"{n:016x}", "trace_id": f"{n % 997:032x}", "operation": "chat", "model": f"m{n % 7}",
                      "provider": "openai", "status": "error" if n % 50 == 0 else "success", "started_at": f"2026-01-01T00:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}000Z",
                      "latency_ms": n % 1000, "input_tokens": 10, "output_tokens": 5, "cost": 0.001, "input": blob}
                     for n in range(start, min(count, start + 5000))])  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def big_server(request, tmp_path_factory):
    """200,000 small records and 300 of 200 KB each, written straight into the store, then served."""
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres").new_database("limits_big")
        store, location = PostgresStore(dsn), dsn
    else:
        location = tmp_path_factory.mktemp("big") / "big.db"
        store = SQLiteStore(location)
    _fill(store, 200_000, 0)
    big = [{"project": "beta", "span_id": f"{n:016x}", "trace_id": "f" * 32, "operation": "chat", "model": "m", "provider": "openai",
            "status": "success", "started_at": "2026-02-01T00:00:00Z", "input": "y" * 200_000} for n in range(300)]  # fmt: skip
    store.write(big)
    store.close()
    process = ServerProcess(location, keys="at-admin=*")
    yield process
    process.stop()


def _growth_kib(server, request) -> int:
    pid = server.process.pid
    before = _rss_kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to now
    request()
    return _rss_kib(pid, "VmHWM") - before


ADMIN = {"Authorization": "Bearer at-admin"}


def test_stats_over_a_big_store_are_computed_by_the_database(big_server):
    answer = {}

    def stats():
        answer.update(httpx.get(big_server.url + "/api/v1/stats?by=model", headers=ADMIN, timeout=60).json())

    growth = _growth_kib(big_server, stats)
    rows = {row["model"]: row for row in answer["stats"]}
    assert sum(r["requests"] for r in rows.values()) == 200_300 and rows["m"]["requests"] == 300 and rows["m0"]["requests"] == len(range(0, 200_000, 7))
    assert rows["m0"]["errors"] == len([n for n in range(0, 200_000, 7) if n % 50 == 0])
    assert rows["m0"]["p50_latency_ms"] in range(490, 510) and rows["m0"]["p95_latency_ms"] in range(940, 960)
    assert growth < 100 * 1024, f"the worker grew {growth // 1024} MB"


def test_logs_of_big_records_stream_in_pages(big_server):
    pages: list[dict] = []

    def logs():
        url = big_server.url + "/api/v1/logs?project=beta&limit=1000"
        while url:
            page = httpx.get(url, headers=ADMIN, timeout=60).json()
            pages.append(page)
            url = big_server.url + "/api/v1/logs?project=beta&limit=1000&cursor=" + page["next"] if page.get("next") else None

    growth = _growth_kib(big_server, logs)
    spans = [r["span_id"] for page in pages for r in page["logs"]]
    assert len(spans) == len(set(spans)) == 300  # every record once, across pages
    assert growth < 100 * 1024, f"the worker grew {growth // 1024} MB for 60 MB of records"


def test_a_huge_native_batch_is_refused_without_holding_the_worker(big_server):
    logs = [{"model": "m"} for _ in range(1_100_000)]

    def post():
        answer = httpx.post(big_server.url + "/api/v1/logs/batch/", json={"logs": logs}, headers=ADMIN, timeout=60)
        assert answer.status_code == 413

    growth = _growth_kib(big_server, post)
    assert growth < 400 * 1024, f"the worker grew {growth // 1024} MB"


def test_grpc_errors_never_carry_the_servers_exception_text(tmp_path):
    """A store failing in a way nobody planned for: the client gets INTERNAL and a generic message, the log gets the rest."""
    class UnplannedFailure(SQLiteStore):
        def write_settled(self, batches):  # what ingest writes with
            raise RuntimeError("secret detail: /srv/aitracer/db password=hunter2")

    store = UnplannedFailure(tmp_path / "s.db")
    port = free_port()
    server = start_grpc(Ingest(store, RecordPipeline(resolve_settings(store=tmp_path / "s.db"), sink=store)), Keys({}), "127.0.0.1", port, 4 << 20, 1000)
    try:
        request = ExportTraceServiceRequest()
        body = otlp(chat_span(uuid.uuid4().hex, "2000000000000001"))
        body["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(traceId=base64_id(16), spanId=base64_id(8))
        json_format.ParseDict(body, request)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel, pytest.raises(grpc.RpcError) as failed:
            trace_service_pb2_grpc.TraceServiceStub(channel).Export(request, timeout=10)
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        assert "secret" not in failed.value.details() and "hunter2" not in failed.value.details()
    finally:
        server.stop(0)


def base64_id(size: int) -> str:
    return base64.b64encode(os.urandom(size)).decode()


def test_reads_while_the_database_is_unreachable_are_503_and_recover(postgres):
    """PostgreSQL refuses connections (and drops the ones serve holds): every read says 503 with Retry-After, then recovers."""
    import psycopg

    dsn = postgres.new_database("unreachable")
    name = dsn.rsplit("/", 1)[1]
    server = ServerProcess(dsn, keys="at-alpha=alpha")
    admin = dsn.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        for path in ("/api/v1/logs", "/api/v1/stats", f"/api/v1/traces/{'a' * 32}", "/healthz"):
            answer = httpx.get(server.url + path, headers=KEY, timeout=30)
            assert answer.status_code == 503, (path, answer.status_code, answer.text)
            assert path == "/healthz" or answer.headers["retry-after"]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        # Recovery, as a client sees it when it honours Retry-After: the pool reconnects with its own backoff, so
        # the first read after the database returns may still be a 503; one within 30 s must succeed.
        deadline, answer = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            answer = httpx.get(server.url + "/api/v1/logs", headers=KEY, timeout=30)
            if answer.status_code != 503:
                break
            time.sleep(float(answer.headers.get("retry-after", "1")))
        assert answer is not None and answer.status_code == 200
    finally:
        server.stop()
