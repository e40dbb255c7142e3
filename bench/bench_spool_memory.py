"""Memory while the AITracer API is down: RSS growth after N records went to the spool instead.

A processor with an API key points at a port where nothing listens; N realistic
chat spans are ended (in batches, waiting for the worker so none is dropped as
``queue_full``: every one is mapped, redacted and spooled). Printed: RSS before
and after, records spooled, spool size on disk, time. Asserts nothing.

    .venv/bin/python bench/bench_spool_memory.py [--records 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    spool_dir = tempfile.mkdtemp(prefix="aitracer-spool-")
    os.environ["AITRACER_SPOOL_DIR"] = spool_dir
    os.environ["AITRACER_SPOOL_MAX_MB"] = "4096"

    from opentelemetry.sdk.trace import TracerProvider

    from otel_aitracer import AITracerSpanProcessor

    processor = AITracerSpanProcessor(api_key="at-bench", base_url=f"http://127.0.0.1:{dead_port()}", max_batch_size=512)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Where is my order 1234? Mail me at jane@example.com"}]}])
    answer = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "It ships tomorrow."}], "finish_reason": "stop"}])
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
                  "gen_ai.usage.input_tokens": 42, "gen_ai.usage.output_tokens": 7, "gen_ai.input.messages": messages,
                  "gen_ai.output.messages": answer}  # fmt: skip
    baseline = rss_mib()
    started = time.perf_counter()
    peak = baseline
    for done in range(0, args.records, args.batch):
        for _ in range(min(args.batch, args.records - done)):
            tracer.start_span("chat gpt-4o-mini", attributes=attributes).end()
        processor._worker.flush(60)  # the worker has spooled them (a flush that waits for delivery would just time out)
        peak = max(peak, rss_mib())
    elapsed = time.perf_counter() - started
    stats = processor.stats()
    spool_bytes = sum(p.stat().st_size for p in Path(spool_dir).glob("*"))
    print(f"records ended: {args.records:,}; spooled: {stats['written']:,}; pending: {stats['pending']:,}; dropped: "
          f"{ {k: v for k, v in stats['dropped'].items() if v} or 'none'}")  # fmt: skip
    print(f"RSS: {baseline:.1f} MiB before, {rss_mib():.1f} MiB after, peak {peak:.1f} MiB: growth {peak - baseline:.1f} MiB")
    print(f"spool on disk: {spool_bytes / 1024 / 1024:.1f} MiB; {args.records / elapsed:,.0f} records/s end to end")
    processor.shutdown()


if __name__ == "__main__":
    main()
