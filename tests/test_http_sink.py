"""Delivery to the AITracer API: spooled first, retried by the OTLP rules, nothing lost or sent twice.

A real loopback server answers (and misbehaves); the processor runs on the real SDK.
Backoffs are shortened (``fast_retries``) so the rules, not the waiting, are tested.
"""

from __future__ import annotations

import json
import socket
import time
from collections import Counter

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_aitracer import AITracerSpanProcessor
from otel_aitracer._destinations import _retry
from otel_aitracer._destinations._http_sink import HTTPSink
from otel_aitracer._destinations._spool import Spool

from .fake_aitracer_api import FakeAITracerAPI

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}


@pytest.fixture
def ingest():
    with FakeAITracerAPI() as api:
        yield api


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(_retry, "INITIAL_BACKOFF", 0.01)
    monkeypatch.setattr(_retry, "JITTER", 0.0)


def emit(processor, n=1, **attributes):
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("a")
    for _ in range(n):
        tracer.start_span("chat gpt-4o-mini", attributes={**GENAI, **attributes}).end()


def test_records_are_posted_as_one_gzip_batch_with_bearer_key_and_idempotency_key(ingest):
    processor = AITracerSpanProcessor(project="remote", api_key="at-test", base_url=ingest.base_url)
    emit(processor, 3)
    assert processor.force_flush()
    [(method, path, auth, body)] = ingest.requests
    assert (method, path, auth) == ("POST", "/api/v1/logs/batch/", "Bearer at-test")
    assert ingest.headers[0]["Content-Encoding"] == "gzip" and len(ingest.headers[0]["Idempotency-Key"]) == 32
    assert [r["project"] for r in body["logs"]] == ["remote"] * 3
    stats = processor.stats()
    assert (stats["written"], stats["sent"], stats["pending"]) == (3, 3, 0)
    processor.shutdown()


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_answers_are_retried_until_accepted(ingest, fast_retries, status):
    ingest.script.extend([(status, {}, 0.0), (status, {}, 0.0)])
    processor = AITracerSpanProcessor(api_key="at-test", base_url=ingest.base_url)
    emit(processor)
    assert processor.force_flush(10_000)
    assert ingest.statuses == [status, status, 201] and len(ingest.delivered()) == 1
    assert processor.stats()["sent"] == 1 and processor.stats()["dropped"]["rejected"] == 0
    processor.shutdown()


@pytest.mark.parametrize("status", [400, 404, 408, 422, 500])
def test_final_answers_are_not_retried_and_are_counted_rejected(ingest, fast_retries, status):
    ingest.status = status
    processor = AITracerSpanProcessor(api_key="at-test", base_url=ingest.base_url)
    emit(processor, 2)
    assert processor.force_flush(10_000)
    assert len(ingest.requests) == 1
    stats = processor.stats()
    assert stats["dropped"]["rejected"] == 2 and (stats["sent"], stats["pending"]) == (0, 0)
    processor.shutdown()


def test_retry_after_is_honoured_over_a_shorter_backoff(ingest, fast_retries):
    ingest.script.append((503, {"Retry-After": "1"}, 0.0))
    processor = AITracerSpanProcessor(api_key="at-test", base_url=ingest.base_url)
    emit(processor)
    assert processor.force_flush(10_000)
    first, second = ingest.times
    assert second - first >= 0.95 and ingest.statuses == [503, 201]
    processor.shutdown()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("5", 5.0), ("  7  ", 7.0), ("-3", 0.0), ("nan", None), ("inf", None), ("garbage", None), (None, None), ("99999", 300.0),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)  # fmt: skip
def test_retry_after_parsing(header, seconds):
    assert _retry.parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date():
    from email.utils import formatdate

    assert 29 <= _retry.parse_retry_after(formatdate(time.time() + 30, usegmt=True)) <= 30


def test_backoff_doubles_to_a_cap():
    assert [_retry.backoff(n, jitter=0) for n in (1, 2, 3, 4, 5, 6, 9)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_413_splits_the_batch_until_it_fits(ingest, fast_retries):
    ingest.max_logs = 3
    processor = AITracerSpanProcessor(api_key="at-test", base_url=ingest.base_url, max_batch_size=10)
    emit(processor, 10)
    assert processor.force_flush(10_000)
    assert len({r["span_id"] for r in ingest.delivered()}) == 10 and all(len(b["logs"]) <= 3 for _, p, _, b in ingest.requests[-4:])
    assert processor.stats()["sent"] == 10 and processor.stats()["dropped"]["rejected"] == 0
    processor.shutdown()


def test_unauthorized_keeps_the_data_and_says_so(ingest, fast_retries):
    ingest.status = 401
    processor = AITracerSpanProcessor(api_key="at-wrong", base_url=ingest.base_url)
    emit(processor)
    assert processor.force_flush(1000) is False  # paused for a minute: the key must be fixed first
    stats = processor.stats()
    assert stats["unauthorized"] == 1 and stats["pending"] == 1 and stats["dropped"]["rejected"] == 0
    processor.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_then_the_api_comes_up(fast_retries):
    port = _free_port()
    processor = AITracerSpanProcessor(api_key="at-test", base_url=f"http://127.0.0.1:{port}")
    emit(processor, 5)
    assert processor.force_flush(300) is False and processor.stats()["pending"] == 5
    with FakeAITracerAPI(port) as api:
        assert processor.force_flush(10_000)
        assert len(api.delivered()) == 5 and processor.stats()["pending"] == 0
    processor.shutdown()


def test_a_slow_api_times_out_and_is_retried(tmp_path, fast_retries, monkeypatch):
    counts: dict[str, int] = {}
    with FakeAITracerAPI() as api:
        api.script.append((201, {}, 1.0))  # answered after the client gave up
        sink = HTTPSink(api.base_url, "at-test", Spool(tmp_path / "s.db", 1 << 20, 3600), lambda k, n: counts.__setitem__(k, counts.get(k, 0) + n))
        monkeypatch.setattr("otel_aitracer._destinations._http_sink._TIMEOUT", __import__("httpx").Timeout(0.3))
        sink.write([{"span_id": "a" * 16}])
        assert sink.flush(10)
        sink.close()
        deadline = time.monotonic() + 5
        while len(api.requests) < 2 and time.monotonic() < deadline:  # the first answer comes late
            time.sleep(0.05)
    assert counts == {"sent": 1} and [r["span_id"] for r in api.delivered()] == ["a" * 16] * 2  # at least once: the receiver dedupes


def test_shutdown_with_the_api_down_keeps_within_budget_and_the_next_process_sends(tmp_path, fast_retries):
    port = _free_port()
    processor = AITracerSpanProcessor(api_key="at-test", base_url=f"http://127.0.0.1:{port}")
    emit(processor, 4)
    started = time.monotonic()
    processor.shutdown()
    assert time.monotonic() - started < 3.0  # the exit budget is 2 s
    with FakeAITracerAPI(port) as api:
        later = AITracerSpanProcessor(api_key="at-test", base_url=f"http://127.0.0.1:{port}")  # same destination: same spool
        assert later.force_flush(10_000)
        assert len(api.delivered()) == 4
        later.shutdown()


def test_spool_bytes_hold_no_pii(tmp_path, fast_retries, monkeypatch):
    monkeypatch.setenv("AITRACER_SPOOL_DIR", str(tmp_path / "spool"))
    processor = AITracerSpanProcessor(api_key="at-test", base_url=f"http://127.0.0.1:{_free_port()}")
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "I am canary.jane@example.com"}]}])
    emit(processor, 1, **{"gen_ai.input.messages": messages})
    processor.force_flush(300)
    processor.shutdown()
    import gzip
    import sqlite3

    [spool] = (tmp_path / "spool").glob("*.db")
    bodies = [gzip.decompress(row[0]) for row in sqlite3.connect(spool).execute("SELECT body FROM requests")]
    assert len(bodies) == 1 and b"[EMAIL]" in bodies[0]
    assert not any(b"canary.jane" in p.read_bytes() for p in (tmp_path / "spool").iterdir())


def test_spool_is_bounded_by_size_and_age(tmp_path):
    spool = Spool(tmp_path / "s.db", max_bytes=100, ttl_seconds=60)
    assert spool.put("POST", "/p", b"x" * 60, 1, "k1")
    assert not spool.put("POST", "/p", b"y" * 60, 1, "k2")  # over the cap: refused, nothing written
    assert spool.put("POST", "/p", b"z" * 30, 2, "k3", created_at=time.time() - 61)
    assert spool.expire() == 2 and spool.pending() == (1, 1, 60)


def test_spool_survives_reopening_in_order_and_leases_are_exclusive(tmp_path):
    first = Spool(tmp_path / "s.db", 1 << 20, 3600)
    for n in range(3):
        first.put("POST", "/p", f"body{n}".encode(), 1, f"k{n}")
    first.close()
    a, b = Spool(tmp_path / "s.db", 1 << 20, 3600), Spool(tmp_path / "s.db", 1 << 20, 3600)  # two processes' views
    leased_a, leased_b = a.lease(), b.lease()
    assert (leased_a.body, leased_b.body) == (b"body0", b"body1")  # never the same row twice
    b.release(leased_b)
    a.ack(leased_a)
    assert [a.lease().body, a.lease().body, a.lease()] == [b"body1", b"body2", None]


def test_spool_full_is_counted(ingest, monkeypatch, fast_retries):
    monkeypatch.setenv("AITRACER_SPOOL_MAX_MB", "0.0001")  # about 100 bytes: no batch fits
    processor = AITracerSpanProcessor(api_key="at-test", base_url=ingest.base_url)
    emit(processor, 2)
    processor.force_flush()
    assert processor.stats()["dropped"]["spool_full"] == 2 and ingest.requests == []
    processor.shutdown()


def test_a_batch_over_the_request_limit_is_split_before_it_is_sent(tmp_path, monkeypatch):
    from otel_aitracer._destinations import _http_sink

    monkeypatch.setattr(_http_sink, "MAX_REQUEST_BYTES", 2_000)
    with FakeAITracerAPI() as api:
        sink = HTTPSink(api.base_url, "at-test", Spool(tmp_path / "s.db", 1 << 20, 3600), lambda k, n: None)
        sink.write([{"span_id": f"{n:016x}", "input": "x" * 300} for n in range(20)])
        assert sink.flush(10)
        sink.close()
    assert sorted(r["span_id"] for r in api.delivered()) == [f"{n:016x}" for n in range(20)]
    assert all(len(json.dumps(body)) <= 2_000 for _, _, _, body in api.requests) and len(api.requests) > 1


def _sink(ingest, tmp_path, counts):
    return HTTPSink(ingest.base_url, "at-test", Spool(tmp_path / "spool.db", 10**8, 3600), lambda reason, n: counts.update({reason: n}))


def _record(span_id, **extra):
    return {"model": "gpt-4o-mini", "provider": "openai", "span_id": span_id, "trace_id": "t" * 32, **extra}


def test_a_request_the_api_never_takes_is_set_aside_and_never_blocks_the_rest(ingest, fast_retries, tmp_path):
    """The API answers 503 to one request forever and takes every other: the rest arrive, the poison is set aside."""
    ingest.refuse = lambda body: 503 if any(r["span_id"] == "poison" for r in body["logs"]) else None
    counts = Counter()
    sink = _sink(ingest, tmp_path, counts)
    sink.write([_record("poison")])  # the oldest row: the one a FIFO sender would retry first, forever
    for n in range(100):
        sink.write([_record(f"r{n:03d}")])
    assert sink.flush(timeout=30)
    assert sorted(r["span_id"] for r in ingest.delivered()) == [f"r{n:03d}" for n in range(100)]
    assert counts["set_aside"] == 1 and counts["sent"] == 100
    assert sink.spool.pending() == (0, 0, 0) and sink.spool.set_aside() == (1, 1)  # kept, not lost, not pending
    sink.close()


def test_an_outage_sets_nothing_aside(ingest, fast_retries, tmp_path):
    """Everything fails for a while (the API is down behind its proxy): every request waits, none is a poison."""
    ingest.script.extend([(502, {}, 0.0)] * 7)
    counts = Counter()
    sink = _sink(ingest, tmp_path, counts)
    for n in range(5):
        sink.write([_record(f"o{n}")])
    assert sink.flush(timeout=30)
    assert sorted(r["span_id"] for r in ingest.delivered()) == [f"o{n}" for n in range(5)]
    assert counts["set_aside"] == 0 and sink.spool.set_aside() == (0, 0)
    sink.close()
