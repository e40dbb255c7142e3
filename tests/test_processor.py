"""AITracerSpanProcessor: queue, worker, flush, drops by reason, fork and exit."""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_aitracer
from instrumentors.openai import OpenAIInstrumentor
from otel_aitracer import AITracerSpanExporter, AITracerSpanProcessor
from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer.exceptions import ConfigurationError

from .helpers import USER, run_python

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "records.db"


@pytest.fixture
def pipeline(store_path, client):
    """A provider with our processor and the OpenAI instrumentor, as an app would set it up."""
    processor = AITracerSpanProcessor(project="tests", store=store_path)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    yield provider, processor
    instrumentor.uninstrument()
    processor.shutdown()


def test_openai_call_becomes_a_record(pipeline, client, store_path):
    provider, processor = pipeline
    response = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert processor.force_flush()
    [record] = SQLiteStore(store_path).query()
    assert record["project"] == "tests"
    assert record["model"] == response.model
    assert record["output"]["content"] == response.choices[0].message.content
    assert record["output_tokens"] == response.usage.completion_tokens
    assert record["cost"] > 0
    stats = processor.stats()
    assert (stats["written"], stats["session_events"], stats["pending"]) == (1, 0, 0) and not any(stats["dropped"].values())


def test_context_is_stamped_on_every_span(pipeline, client, store_path):
    provider, processor = pipeline
    app_exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(app_exporter))
    with otel_aitracer.session("s-9", user_id="alice", metadata={"plan": "pro"}), otel_aitracer.project("billing"):
        with provider.get_tracer("app").start_as_current_span("db query"):
            pass
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    processor.force_flush()
    db_span = next(s for s in app_exporter.get_finished_spans() if s.name == "db query")
    assert db_span.attributes["session.id"] == "s-9" and db_span.attributes["aitracer.project"] == "billing"
    [record] = SQLiteStore(store_path).query()
    assert (record["session_id"], record["app_user_id"], record["project"]) == ("s-9", "alice", "billing")
    assert record["metadata"] == {"plan": "pro"}


def test_explicit_span_attribute_beats_context(pipeline, store_path):
    provider, processor = pipeline
    with otel_aitracer.project("from-context"):
        provider.get_tracer("app").start_span("chat x", attributes={**GENAI, "aitracer.project": "explicit"}).end()
    processor.force_flush()
    assert SQLiteStore(store_path).query()[0]["project"] == "explicit"


def test_context_is_isolated_between_threads_and_tasks(pipeline, client, store_path):
    provider, processor = pipeline

    def call(user):
        with otel_aitracer.session(f"s-{user}", user_id=user):
            client.chat.completions.create(model="gpt-4o-mini", messages=USER)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(call, ["t1", "t2", "t3", "t4"]))

    async def task(user):
        with otel_aitracer.session(f"s-{user}", user_id=user):
            await asyncio.sleep(0.01)
            provider.get_tracer("app").start_span("chat x", attributes=GENAI).end()

    async def main():
        await asyncio.gather(*(task(u) for u in ("a1", "a2", "a3")))

    asyncio.run(main())
    processor.force_flush()
    records = SQLiteStore(store_path).query()
    assert sorted((r["session_id"], r["app_user_id"]) for r in records) == sorted((f"s-{u}", u) for u in ("t1", "t2", "t3", "t4", "a1", "a2", "a3"))


def test_context_follows_copy_context_into_threads(pipeline, store_path):
    provider, processor = pipeline
    with otel_aitracer.session("s-copied", user_id="bob"):
        ctx = contextvars.copy_context()
    thread = threading.Thread(target=ctx.run, args=(lambda: provider.get_tracer("a").start_span("chat x", attributes=GENAI).end(),))
    thread.start()
    thread.join()
    processor.force_flush()
    assert SQLiteStore(store_path).query()[0]["session_id"] == "s-copied"


def test_set_metadata_and_trace_tags(pipeline, store_path):
    provider, processor = pipeline
    tracer = provider.get_tracer("app")
    with otel_aitracer.trace("request-123", name="handle request") as t:
        t.set_metadata({"feature": "summarize"})
        t.add_tag("prod")
        tracer.start_span("chat x", attributes=GENAI).end()
    with otel_aitracer.trace("request-123") as again:
        pass
    processor.force_flush()
    [record] = SQLiteStore(store_path).query()
    assert record["trace_id"] == t.trace_id == again.trace_id
    assert record["metadata"] == {"feature": "summarize"} and record["tags"] == ["prod"]


def test_mapping_failure_is_counted_and_never_raises(store_path):
    processor = AITracerSpanProcessor(store=store_path, sync=True)
    broken = ReadableSpan(name="chat x", context=None, attributes=GENAI)
    processor.on_end(broken)
    assert processor.stats()["dropped"]["mapping_error"] == 1
    processor.shutdown()


def test_sink_failure_is_counted(store_path):
    store = SQLiteStore(store_path)
    processor = AITracerSpanProcessor(sink=store)
    store.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(f"{store_path}{suffix}"):
            os.remove(f"{store_path}{suffix}")
    store_path.write_bytes(b"this is not a sqlite database" * 100)  # the next write reopens it
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("a").start_span("chat x", attributes=GENAI).end()
    processor.force_flush()
    assert processor.stats()["dropped"]["store_unavailable"] == 1  # the store reopens a corrupt file: counted by its reason
    processor.shutdown()


def test_full_queue_drops_and_counts(store_path):
    processor = AITracerSpanProcessor(store=store_path, max_queue_size=2, max_batch_size=100, schedule_delay=60)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    for _ in range(5):
        provider.get_tracer("a").start_span("chat x", attributes=GENAI).end()
    assert processor.stats()["dropped"]["queue_full"] == 3
    processor.force_flush()
    assert SQLiteStore(store_path).count() == 2
    processor.shutdown()


def test_after_shutdown_spans_are_counted_not_written(store_path):
    processor = AITracerSpanProcessor(store=store_path)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    processor.shutdown()
    processor.shutdown()
    provider.get_tracer("a").start_span("chat x", attributes=GENAI).end()
    assert processor.stats()["dropped"]["shutdown"] == 1


def test_non_genai_spans_are_ignored(store_path):
    processor = AITracerSpanProcessor(store=store_path)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("a").start_span("GET /health").end()
    processor.force_flush()
    assert SQLiteStore(store_path).count() == 0
    processor.shutdown()


def test_sync_mode_writes_before_on_end_returns(store_path):
    processor = AITracerSpanProcessor(store=store_path, sync=True)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("a").start_span("chat x", attributes=GENAI).end()
    assert SQLiteStore(store_path).count() == 1
    processor.shutdown()


def test_exporter_behind_batch_span_processor(store_path):
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = AITracerSpanExporter(project="exp", store=store_path)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    provider.get_tracer("a").start_span("chat x", attributes=GENAI).end()
    provider.get_tracer("a").start_span("GET /").end()
    provider.force_flush()
    assert [r["project"] for r in SQLiteStore(store_path).query()] == ["exp"]
    assert exporter.stats()["written"] == 1
    provider.shutdown()


@pytest.mark.parametrize(
    "kwargs",
    [{"pii_action": "shred"}, {"project": ""}, {"base_url": "ftp://x"}, {"store": 42}],
)
def test_bad_arguments_raise_configuration_error(kwargs, store_path):
    kwargs = {"store": store_path, **kwargs}
    with pytest.raises(ConfigurationError):
        AITracerSpanProcessor(**kwargs)


def test_unopenable_store_warns_and_counts_instead_of_failing_start_up(tmp_path, caplog):
    (tmp_path / "file").write_text("x")
    with caplog.at_level("WARNING"):
        processor = AITracerSpanProcessor(store=tmp_path / "file" / "sub" / "records.db", sync=True)
    assert "cannot open the store" in caplog.text
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("a").start_span("chat x", attributes=GENAI).end()
    assert processor.stats()["dropped"]["store_unavailable"] == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_records_through_its_own_worker(store_path):
    processor = AITracerSpanProcessor(store=store_path)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    pid = os.fork()
    if pid == 0:  # child
        try:
            provider.get_tracer("a").start_span("chat child", attributes=GENAI).end()
            ok = processor.force_flush(5000)
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    provider.get_tracer("a").start_span("chat parent", attributes=GENAI).end()
    processor.force_flush()
    assert sorted(r["name"] for r in SQLiteStore(store_path).query()) == ["chat child", "chat parent"]
    processor.shutdown()


def test_records_are_flushed_at_exit_without_flush_call(store_path):
    result = run_python(
        f"""
        from opentelemetry.sdk.trace import TracerProvider
        from otel_aitracer import AITracerSpanProcessor
        processor = AITracerSpanProcessor(store={str(store_path)!r}, schedule_delay=60)
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(processor)
        provider.get_tracer("a").start_span("chat x", attributes={GENAI!r}).end()
        """
    )
    assert result.returncode == 0, result.stderr
    assert SQLiteStore(store_path).count() == 1



def test_trace_without_id_groups_calls_in_one_fresh_trace(pipeline, store_path):
    provider, processor = pipeline
    tracer = provider.get_tracer("app")
    with otel_aitracer.trace(name="batch job") as first:
        tracer.start_span("chat a", attributes=GENAI).end()
        tracer.start_span("chat b", attributes=GENAI).end()
    with otel_aitracer.trace(name="batch job") as second:
        tracer.start_span("chat c", attributes=GENAI).end()
    processor.force_flush()
    by_name = {r["name"]: r["trace_id"] for r in SQLiteStore(store_path).query()}
    assert by_name["chat a"] == by_name["chat b"] == first.trace_id != second.trace_id == by_name["chat c"]
