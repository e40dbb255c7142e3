"""One call, one record, when two serve workers take the halves of it at once (SPEC §6).

A wrapper's span around an LLM call (the outer call) and the SDK's own span (the inner call) can
reach serve in two requests; with several workers the two requests can be taken at the same time
by two of them. Each request also carries unrelated calls, as a collector's batches do, so each
takes a worker some milliseconds. Whatever the timing, the pair must end as one record.
"""

from __future__ import annotations

import json
import threading
import uuid

import httpx
import pytest

from .server_process import ServerProcess
from .test_serve_shared import chat_span, otlp

ROUNDS = 30
FILLER = 150  # unrelated calls per request


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_workers(request, tmp_path_factory):
    store = tmp_path_factory.mktemp("race") / "server.db"
    if request.param == "postgres":
        store = request.getfixturevalue("postgres").new_database("race_tests")
    process = ServerProcess(store, workers=2)
    yield process
    process.stop()


def _filler() -> list[dict]:
    return [chat_span(uuid.uuid4().hex, uuid.uuid4().hex[:16], prompt=f"unrelated {n}") for n in range(FILLER)]


def _post_together(url: str, bodies: list[bytes]) -> None:
    """Post each body on its own new connection, all at once."""
    start = threading.Barrier(len(bodies))
    failures: list[str] = []

    def post(body: bytes) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            start.wait()
            answer = client.post("/v1/traces", content=body, headers={"Content-Type": "application/json"})
            if answer.status_code != 200:
                failures.append(answer.text)

    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_an_outer_and_an_inner_call_taken_by_two_workers_at_once_are_one_record(two_workers):
    inner_of = {}
    for n in range(ROUNDS):
        trace, outer, inner = uuid.uuid4().hex, uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
        inner_of[trace] = inner
        with_inner = otlp(chat_span(trace, inner, parent=outer, prompt=f"inner {n}"), *_filler())
        with_outer = otlp(chat_span(trace, outer, prompt=f"outer {n}", **{"session.id": f"s-{n}"}), *_filler())
        bodies = [json.dumps(with_inner).encode(), json.dumps(with_outer).encode()]
        _post_together(two_workers.url, bodies if n % 2 else bodies[::-1])
    stored = {}
    for trace in inner_of:
        answer = httpx.get(f"{two_workers.url}/api/v1/traces/{trace}", timeout=10)
        assert answer.status_code == 200, answer.text
        stored[trace] = [r["span_id"] for r in answer.json()["logs"]]
    doubled = {trace: spans for trace, spans in stored.items() if len(spans) != 1}
    assert not doubled, f"{len(doubled)} of {ROUNDS} calls stored as {[len(s) for s in doubled.values()]} records"
    assert all(spans == [inner_of[trace]] for trace, spans in stored.items())  # the inner call's record is the one kept
