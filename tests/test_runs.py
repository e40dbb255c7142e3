"""run() and step(): multi-step pipelines, each LLM call a numbered, named step of its run."""

from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry.sdk.trace import TracerProvider

import otel_aitracer
from instrumentors.openai import OpenAIInstrumentor
from otel_aitracer import AITracerSpanProcessor
from otel_aitracer._destinations._store import SQLiteStore

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def recording(tmp_path):
    processor = AITracerSpanProcessor(store=tmp_path / "r.db", sync=True)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    yield lambda: SQLiteStore(tmp_path / "r.db").query(newest_first=False)
    instrumentor.uninstrument()
    processor.shutdown()


def steps(records):
    return [(r["step_index"], r["name"]) for r in sorted(records, key=lambda r: r["step_index"])]


def test_calls_in_a_run_are_numbered_and_named(recording, client):
    with otel_aitracer.run("support ticket") as run:
        otel_aitracer.step("classify-intent")
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        run.step("draft-answer")
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # outside: no step
    records = recording()
    inside = [r for r in records if r["trace_id"] == run.run_id]
    assert steps(inside) == [(0, "classify-intent"), (1, "step_2"), (2, "draft-answer")]
    [outside] = [r for r in records if r["trace_id"] != run.run_id]
    assert "step_index" not in outside and outside["name"] == "chat gpt-4o-mini"


def test_parallel_runs_share_neither_id_nor_counter(recording, client, async_client):
    ids: list[str] = []

    def in_thread(n: int) -> None:
        with otel_aitracer.run(f"thread {n}") as run:
            ids.append(run.run_id)
            for _ in range(3):
                client.chat.completions.create(model="gpt-4o-mini", messages=USER)

    async def in_task(n: int) -> None:
        with otel_aitracer.run(f"task {n}") as run:
            ids.append(run.run_id)
            for _ in range(3):
                await async_client.chat.completions.create(model="gpt-4o-mini", messages=USER)

    threads = [threading.Thread(target=in_thread, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()

    async def tasks() -> None:
        await asyncio.gather(*(in_task(n) for n in range(3)))

    asyncio.run(tasks())
    for t in threads:
        t.join()
    records = recording()
    assert len(set(ids)) == 6
    for run_id in ids:
        assert steps([r for r in records if r["trace_id"] == run_id]) == [(0, "step_1"), (1, "step_2"), (2, "step_3")]


def test_step_outside_a_run_changes_nothing(recording, client):
    otel_aitracer.step("orphan")
    client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    [record] = recording()
    assert "step_index" not in record and record["name"] == "chat gpt-4o-mini"
