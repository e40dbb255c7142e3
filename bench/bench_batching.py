"""Our batching engine against the SDK's ``BatchSpanProcessor``, on the same mapping, redaction and store.

Issue 12 asked to keep our own queue only if it measures better. Both set-ups write the
same records to a SQLite store:

- ``ours``: ``AITracerSpanProcessor`` (a deque and one worker thread, ``_batching.BatchWorker``);
- ``sdk``: ``BatchSpanProcessor(AITracerSpanExporter())`` (the SDK's ``BatchProcessor``).

Printed per set-up: µs the application's thread spends in ``span.end()`` (median of rounds),
and the end-to-end rate until every record is in the store. Both run in this process, the
set-ups interleaved round by round. Asserts nothing.

    .venv/bin/python bench/bench_batching.py [--spans 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402

from otel_aitracer import AITracerSpanExporter, AITracerSpanProcessor  # noqa: E402
from otel_aitracer._destinations._store import SQLiteStore  # noqa: E402

ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 40,
    "gen_ai.usage.output_tokens": 12,
    "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "What is OpenTelemetry, in one line?"}]}]',
}


def _provider(kind: str, store: Path) -> tuple[TracerProvider, object]:
    provider = TracerProvider()
    if kind == "ours":
        processor: object = AITracerSpanProcessor(store=store, flush_on_exit=False)
    else:
        processor = BatchSpanProcessor(AITracerSpanExporter(store=store), max_queue_size=4096, max_export_batch_size=256, schedule_delay_millis=1000)
    provider.add_span_processor(processor)  # type: ignore[arg-type]
    return provider, processor


def run(kind: str, spans: int) -> tuple[float, float]:
    """(µs on the app's thread per span, records per second end to end)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "r.db"
        provider, processor = _provider(kind, store)
        tracer = provider.get_tracer("bench")
        in_app = 0.0
        started = time.perf_counter()
        for n in range(spans):
            span = tracer.start_span("chat gpt-4o-mini", attributes=ATTRIBUTES)
            before = time.perf_counter()
            span.end()
            in_app += time.perf_counter() - before
            if n % 2000 == 1999:  # stay under both queues' bound, so nothing is dropped
                processor.force_flush(60_000)  # type: ignore[attr-defined]
        processor.force_flush(60_000)  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        provider.shutdown()
        written = SQLiteStore(store).count()
    if written != spans:
        print(f"  ({kind}: {written} of {spans} records written)")
    return in_app / spans * 1e6, spans / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"ours": [], "sdk": []}
    for round_ in range(args.rounds):
        for kind in results:
            results[kind].append(run(kind, args.spans))
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    print(f"\n{args.spans} chat spans per round, median of {args.rounds} rounds")
    print(f"{'engine':<45} {'µs in span.end()':>17} {'records/s':>10}")
    names = {"ours": "ours (AITracerSpanProcessor, BatchWorker)", "sdk": "SDK BatchSpanProcessor + AITracerSpanExporter"}
    for kind, rows in results.items():
        print(f"{names[kind]:<45} {statistics.median(r[0] for r in rows):>17.2f} {statistics.median(r[1] for r in rows):>10.0f}")


if __name__ == "__main__":
    main()
