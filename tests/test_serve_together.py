"""Trace requests waiting for a worker's ingest thread are stored together, each answered as if alone.

``Together`` on its own (the queue the ingest thread drains), ``Ingest.otlp_together`` on a real
store of each engine (requests settled in turn inside one transaction), and a real serve process
taking a burst of requests of which one has a bad body and one names a project its key may not
write.
"""

from __future__ import annotations

import json
import threading
import uuid

import httpx
import pytest

from otel_aitracer._config import resolve_settings
from otel_aitracer._recording._pipeline import RecordPipeline
from otel_aitracer.server._auth import OPEN, Keys
from otel_aitracer.server._ingest import Forbidden, Ingest
from otel_aitracer.server._otlp import JSON, parse_request
from otel_aitracer.server._together import Together

from .server_process import ServerProcess
from .test_serve_shared import chat_span, otlp


def test_the_first_turn_answers_every_request_waiting_up_to_the_limit():
    calls = []

    def work(items):
        calls.append(list(items))
        return [ValueError(item) if item == "bad" else item.upper() for item in items]

    together = Together(work, most=3)
    waiting = [together.enter(item) for item in ("a", "bad", "c", "d")]
    assert together.answer(waiting[2]) == "C"  # its turn took the first three
    assert calls == [["a", "bad", "c"]]
    assert together.answer(waiting[0]) == "A" and calls == [["a", "bad", "c"]]  # answered already: no work
    with pytest.raises(ValueError, match="bad"):
        together.answer(waiting[1])  # an item's own exception is its own
    assert together.answer(waiting[3]) == "D" and calls == [["a", "bad", "c"], ["d"]]


def test_a_failure_of_the_work_is_every_request_of_that_turn():
    def work(items):
        raise OSError("disk full")

    together = Together(work, most=4)
    first, second = together.enter(1), together.enter(2)
    with pytest.raises(OSError, match="disk full"):
        together.answer(first)
    with pytest.raises(OSError, match="disk full"):
        together.answer(second)


def _request(*spans, project=None):
    return parse_request(json.dumps(otlp(*spans, project=project)).encode(), JSON)


def test_requests_stored_together_are_settled_in_turn(records_db, tmp_path):
    """The inner call in the first request, its outer call in the second: one record, as if written one after the other;
    a request naming a project its key may not write is refused alone."""
    ingest = Ingest(records_db, RecordPipeline(resolve_settings(store=tmp_path / "unused.db"), sink=records_db))
    trace, outer, inner = uuid.uuid4().hex, uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    other = uuid.uuid4().hex
    beta_only = Keys({"at-beta": ["beta"]}).grant("Bearer at-beta")
    answers = ingest.otlp_together([
        (_request(chat_span(trace, inner, parent=outer, prompt="inner")), OPEN),
        (_request(chat_span(other, uuid.uuid4().hex[:16], prompt="alpha's"), project="alpha"), beta_only),
        (_request(chat_span(trace, outer, prompt="outer", **{"session.id": "s-1"})), OPEN),
    ])  # fmt: skip
    assert isinstance(answers[1], Forbidden)
    assert [(a.accepted, a.duplicates) for a in (answers[0], answers[2])] == [(1, 0), (1, 1)]  # the outer one folded
    assert [(r["span_id"], r["session_id"]) for r in records_db.query(trace=trace)] == [(inner, "s-1")]
    assert records_db.query(trace=other) == []
    assert [(row["group"], row["requests"]) for row in records_db.stats("session_id")] == [("s-1", 1)]  # the rollups moved with the fold


def test_a_burst_with_a_bad_body_and_a_refused_project_answers_each_alone(tmp_path):
    server = ServerProcess(tmp_path / "s.db", keys="at-alpha=alpha;at-beta=beta", workers=1)
    try:
        good = [json.dumps(otlp(chat_span(uuid.uuid4().hex, uuid.uuid4().hex[:16]), project="alpha")) for _ in range(6)]
        bodies = [(body, "at-alpha") for body in good] + [("{not json", "at-alpha"), (good[0].replace('"alpha"', '"beta"'), "at-alpha")]
        statuses: dict[int, int] = {}
        start = threading.Barrier(len(bodies))

        def post(n: int, body: str, key: str) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                start.wait()
                statuses[n] = client.post("/v1/traces", content=body, headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"}).status_code

        threads = [threading.Thread(target=post, args=(n, body, key)) for n, (body, key) in enumerate(bodies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [statuses[n] for n in range(len(bodies))] == [200] * 6 + [400, 403]
        stored = httpx.get(f"{server.url}/api/v1/logs", params={"limit": 100}, headers={"Authorization": "Bearer at-alpha"}, timeout=10).json()["logs"]
        assert len(stored) == 6
    finally:
        server.stop()


def test_a_stored_call_merged_with_its_outer_call_joins_its_baseline_once(records_db, tmp_path):
    """The inner call is stored, then its outer call arrives: the stored record is taken out, merged and scored again,
    but the call it stands for was counted into the project's baseline when it came, and is not counted twice."""
    ingest = Ingest(records_db, RecordPipeline(resolve_settings(store=tmp_path / "unused.db"), sink=records_db))
    trace, outer, inner = uuid.uuid4().hex, uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    ingest.otlp(_request(chat_span(trace, inner, parent=outer, prompt="inner")), OPEN)
    ingest.otlp(_request(chat_span(trace, outer, prompt="outer", **{"session.id": "s-1"})), OPEN)
    [record] = records_db.query(trace=trace)
    assert (record["span_id"], record["session_id"], record["anomaly_score"]) == (inner, "s-1", 0)
    [baseline] = ingest.pipeline.scorer.baselines.take_changed().values()
    assert baseline["latency_ms"]["seen"] == 1 and max(kept["seen"] for kept in baseline.values()) == 1


def test_a_call_that_takes_what_its_stored_outer_call_knew_is_judged_on_what_it_took(records_db, tmp_path):
    """The outer call is stored first (it holds the prompt), then its inner call arrives without one: the inner record
    takes the prompt, and its score is judged on the merged record, not on what arrived (a prompt asking for JSON,
    a prose answer: 2001), and its row is the merged one."""
    ingest = Ingest(records_db, RecordPipeline(resolve_settings(store=tmp_path / "unused.db"), sink=records_db))
    trace, outer, inner = uuid.uuid4().hex, uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    ingest.otlp(_request(chat_span(trace, outer, prompt="Reply only in JSON: how many legs has a spider?", **{"session.id": "s-9"})), OPEN)
    answer = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Eight legs."}]}])
    inner_span = chat_span(trace, inner, parent=outer, **{"gen_ai.output.messages": answer})
    inner_span["attributes"] = [a for a in inner_span["attributes"] if a["key"] != "gen_ai.input.messages"]
    ingest.otlp(_request(inner_span), OPEN)
    [record] = records_db.query(trace=trace)
    assert (record["span_id"], record["session_id"], record["anomaly_codes"]) == (inner, "s-9", [2001])


def test_a_span_sent_again_is_counted_once(records_db, tmp_path):
    """An exporter that timed out sends its batch again: the span is stored once, its call joins its project's
    baseline once, and the second answer counts it as a duplicate."""
    ingest = Ingest(records_db, RecordPipeline(resolve_settings(store=tmp_path / "unused.db"), sink=records_db))
    trace, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    first = ingest.otlp(_request(chat_span(trace, span_id)), OPEN)
    again = ingest.otlp(_request(chat_span(trace, span_id)), OPEN)
    assert (first.accepted, again.accepted, again.duplicates) == (1, 0, 1)
    assert len(records_db.query(trace=trace)) == 1
    [baseline] = ingest.pipeline.scorer.baselines.take_changed().values()
    assert baseline["latency_ms"]["seen"] == 1


def test_a_write_that_fails_counts_nothing_and_its_retry_counts_once(tmp_path):
    """The transaction fails after settling (the store refuses the insert): the request is answered with the error, the
    call joins no baseline; the exporter sends it again, and it joins once. (Counting inside the transaction counted it
    for the failed attempt and again for the retry.)"""
    import sqlite3

    from otel_aitracer._destinations._store import SQLiteStore

    store = SQLiteStore(tmp_path / "refusing.db")
    ingest = Ingest(store, RecordPipeline(resolve_settings(store=tmp_path / "refusing.db"), sink=store))
    trace, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    with sqlite3.connect(tmp_path / "refusing.db") as admin:
        admin.execute("CREATE TRIGGER refuse BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(Exception, match="refused"):
        ingest.otlp(_request(chat_span(trace, span_id)), OPEN)
    assert ingest.pipeline.scorer.baselines.take_changed() == {}
    with sqlite3.connect(tmp_path / "refusing.db") as admin:
        admin.execute("DROP TRIGGER refuse")
    assert ingest.otlp(_request(chat_span(trace, span_id)), OPEN).accepted == 1
    [baseline] = ingest.pipeline.scorer.baselines.take_changed().values()
    assert baseline["latency_ms"]["seen"] == 1
    store.close()
