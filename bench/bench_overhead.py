"""Overhead of the OpenAI instrumentor and of AITracerSpanProcessor.on_end, in µs.

Runs the real ``openai`` client over an ``httpx2.MockTransport`` (no sockets,
so the numbers are the client's own cost plus ours), content capture on:

- per non-streaming call: instrumented minus uninstrumented;
- per streamed chunk: the same, over a 500-chunk stream;
- per ``on_end``: what the application thread pays for each finished span.

When ``opentelemetry-instrumentation-openai-v2`` is importable it is measured
the same way, for comparison. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2  # noqa: E402
import openai  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

CALLS = 2000
CHUNKS = 500
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Summarize OpenTelemetry in one line."}]
_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "OpenTelemetry is a vendor-neutral telemetry standard."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 25, "completion_tokens": 9, "total_tokens": 34, "prompt_tokens_details": {"cached_tokens": 0}},
    }
).encode()


def _stream_body() -> bytes:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini-2024-07-18"}
    events = [{**base, "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]} for i in range(CHUNKS - 2)]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({**base, "choices": [], "usage": {"prompt_tokens": 25, "completion_tokens": CHUNKS, "total_tokens": 25 + CHUNKS}})
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


_STREAM = _stream_body()


def _handler(request: httpx2.Request) -> httpx2.Response:
    if b'"stream":true' in request.content.replace(b" ", b""):
        return httpx2.Response(200, content=_STREAM, headers={"content-type": "text/event-stream"})
    return httpx2.Response(200, content=_COMPLETION, headers={"content-type": "application/json"})


def _client() -> openai.OpenAI:
    http = httpx2.Client(transport=httpx2.MockTransport(_handler))
    return openai.OpenAI(api_key="sk-bench", base_url="http://bench.local/v1", http_client=http, max_retries=0)


def _best_of(runs: int, fn: Callable[[], float]) -> float:
    """Median of ``runs`` timings: robust to a noisy neighbour on a 2-core machine."""
    return statistics.median(fn() for _ in range(runs))


def per_call_us(client: openai.OpenAI) -> float:
    def run() -> float:
        gc.collect()
        start = time.perf_counter()
        for _ in range(CALLS):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return (time.perf_counter() - start) / CALLS * 1e6

    return _best_of(5, run)


def per_chunk_us(client: openai.OpenAI) -> float:
    def run() -> float:
        gc.collect()
        start = time.perf_counter()
        for _ in range(20):
            for _chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}):
                pass
        return (time.perf_counter() - start) / (20 * CHUNKS) * 1e6

    return _best_of(5, run)


def measure(label: str, instrument: Callable[[], Callable[[], None]] | None, baseline: tuple[float, float] | None) -> tuple[float, float]:
    undo = instrument() if instrument else (lambda: None)
    client = _client()
    per_call_us(client)  # warm up
    call, chunk = per_call_us(client), per_chunk_us(client)
    undo()
    if baseline is None:
        print(f"{label:<46} {call:9.1f} µs/call  {chunk:7.2f} µs/chunk")
    else:
        print(f"{label:<46} {call:9.1f} µs/call  {chunk:7.2f} µs/chunk   added: {call - baseline[0]:+7.1f} µs/call  {chunk - baseline[1]:+6.2f} µs/chunk")
    return call, chunk


def _ours(provider: TracerProvider) -> Callable[[], Callable[[], None]]:
    def instrument() -> Callable[[], None]:
        from instrumentors.openai import OpenAIInstrumentor

        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=provider, capture_content=True)
        return instrumentor.uninstrument

    return instrument


def _peer_openai_v2(provider: TracerProvider) -> Callable[[], Callable[[], None]] | None:
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as PeerInstrumentor
    except Exception:  # noqa: BLE001 - absent or incompatible: report and skip
        return None

    def instrument() -> Callable[[], None]:
        import os

        # Its content capture needs the latest-conventions opt-in plus a mode.
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
        instrumentor = PeerInstrumentor()
        instrumentor.instrument(tracer_provider=provider)
        return instrumentor.uninstrument

    return instrument


def stream_proxy_us() -> float:
    """Our cost per chunk alone: the proxy plus the recorder over parsed chunks, minus a bare loop.

    The end-to-end stream numbers above carry the SDK's ~60 µs/chunk of parsing
    and its noise; this isolates the part that is ours.
    """
    from openai.types.chat import ChatCompletionChunk

    from instrumentors._genai import LLMCall
    from instrumentors._stream import SyncStreamProxy
    from instrumentors.openai._chat import ChatStreamRecorder

    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    chunks = [ChatCompletionChunk.model_validate({**base, "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]}) for i in range(100_000)]
    tracer = TracerProvider().get_tracer("bench")

    def bare() -> float:
        start = time.perf_counter()
        for _ in iter(chunks):
            pass
        return time.perf_counter() - start

    def proxied() -> float:
        start = time.perf_counter()
        for _ in SyncStreamProxy(iter(chunks), ChatStreamRecorder(LLMCall(tracer, "chat", "gpt-4o-mini", {}), True)):
            pass
        return time.perf_counter() - start

    return (min(proxied() for _ in range(5)) - min(bare() for _ in range(5))) / len(chunks) * 1e6


def on_end_us() -> float:
    from otel_aitracer import AITracerSpanProcessor

    with tempfile.TemporaryDirectory() as tmp:
        processor = AITracerSpanProcessor(store=Path(tmp) / "b.db", max_queue_size=200_000, max_batch_size=200_000, schedule_delay=3600)
        tracer = TracerProvider().get_tracer("bench")
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}
        spans = []
        for _ in range(50_000):
            span = tracer.start_span("chat gpt-4o-mini", attributes=attrs)
            span.end()
            spans.append(span)
        gc.collect()
        start = time.perf_counter()
        for span in spans:
            processor.on_end(span)
        elapsed = (time.perf_counter() - start) / len(spans) * 1e6
        processor.shutdown(timeout=60)
    return elapsed


def main() -> None:
    print(f"python {sys.version.split()[0]}, openai {openai.__version__}, {CALLS} calls, {CHUNKS}-chunk streams, content capture on\n")
    bare = measure("no instrumentation", None, None)
    measure("otel-aitracer, SDK provider without processors", _ours(TracerProvider()), bare)
    from otel_aitracer import AITracerSpanProcessor

    with tempfile.TemporaryDirectory() as tmp:
        provider = TracerProvider()
        processor = AITracerSpanProcessor(store=Path(tmp) / "bench.db")
        provider.add_span_processor(processor)
        measure("otel-aitracer + AITracerSpanProcessor (SQLite)", _ours(provider), bare)
        processor.shutdown()
    peer = _peer_openai_v2(TracerProvider())
    if peer is None:
        print("opentelemetry-instrumentation-openai-v2: not importable here (pip install it with 'opentelemetry-util-genai<1.2')")
    else:
        measure("opentelemetry-instrumentation-openai-v2", peer, bare)
    print(f"\nstream proxy + recorder alone (content on): {stream_proxy_us():.2f} µs/chunk")
    print(f"AITracerSpanProcessor.on_end: {on_end_us():.2f} µs/span")


if __name__ == "__main__":
    main()
