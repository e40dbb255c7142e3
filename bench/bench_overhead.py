"""Added µs per OpenAI call and per streamed chunk: ours against every peer, in one run.

Each implementation runs the real ``openai`` client over an ``httpx2.MockTransport``
(no sockets: the numbers are the client's own cost plus the instrumentation's),
content capture on, SDK ``TracerProvider`` without processors, and reports
instrumented minus uninstrumented in the same process. Peers live in their own
virtualenvs (``bench/.venv-<peer>``, created by pip on first use: they pin
incompatible ``opentelemetry-util-genai`` versions), and the implementations
are interleaved round by round so a noisy neighbour hits all of them alike.
Also: our stream proxy alone per chunk, and ``AITracerSpanProcessor.on_end``.
Prints a table; asserts nothing.

    .venv/bin/python bench/bench_overhead.py [--rounds 3] [--no-peers]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402
import openai  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

CALLS = 1000
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


def _timed(runs: int, fn: Callable[[], float]) -> float:
    """Median of ``runs`` timings: robust to a noisy neighbour on a 2-core machine."""
    return statistics.median(fn() for _ in range(runs))


def per_call_us(client: openai.OpenAI) -> float:
    def run() -> float:
        gc.collect()
        start = time.perf_counter()
        for _ in range(CALLS):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return (time.perf_counter() - start) / CALLS * 1e6

    return _timed(3, run)


def per_chunk_us(client: openai.OpenAI) -> float:
    def run() -> float:
        gc.collect()
        start = time.perf_counter()
        for _ in range(10):
            for _chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}):
                pass
        return (time.perf_counter() - start) / (10 * CHUNKS) * 1e6

    return _timed(3, run)


# name -> (venv suffix, packages, "module:Instrumentor", environment for content capture)
PEERS: dict[str, tuple[str, list[str], str, dict[str, str]]] = {
    "openai-v2 2.4b0 (official)": (
        "v2",
        ["opentelemetry-instrumentation-openai-v2==2.4b0", "opentelemetry-util-genai==1.1b0", "httpx"],
        "opentelemetry.instrumentation.openai_v2:OpenAIInstrumentor",
        {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
    ),
    "genai-openai 1.3b0 (official successor)": (
        "genai",
        ["opentelemetry-instrumentation-genai-openai"],
        "opentelemetry.instrumentation.genai.openai:OpenAIInstrumentor",
        {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
    ),
    "OpenLLMetry (opentelemetry-instrumentation-openai)": (
        "openllmetry",
        ["opentelemetry-instrumentation-openai"],
        "opentelemetry.instrumentation.openai:OpenAIInstrumentor",
        {"TRACELOOP_TRACE_CONTENT": "true"},
    ),
    "OpenInference (openinference-instrumentation-openai)": (
        "openinference",
        ["openinference-instrumentation-openai"],
        "openinference.instrumentation.openai:OpenAIInstrumentor",
        {},
    ),
}
OURS = "otel-aitracer"


def worker(target: str) -> dict[str, float]:
    """One round in this process: bare, then instrumented, per call and per chunk."""
    client = _client()
    per_call_us(client)  # warm up
    bare_call, bare_chunk = per_call_us(client), per_chunk_us(client)
    provider = TracerProvider()
    if target == OURS:
        from instrumentors.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider, capture_content=True)
    else:
        module, name = target.split(":")
        getattr(importlib.import_module(module), name)().instrument(tracer_provider=provider)
    per_call_us(client)
    return {"call": per_call_us(client) - bare_call, "chunk": per_chunk_us(client) - bare_chunk}


def _peer_python(suffix: str, packages: list[str]) -> Path:
    home = ROOT / "bench" / f".venv-{suffix}"
    python = home / "bin" / "python"
    if not python.exists():
        print(f"creating {home} ({', '.join(packages)}), first run only…", flush=True)
        venv.create(home, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"openai=={openai.__version__}", "opentelemetry-sdk", *packages], check=True)
    return python


def _run(python: Path, target: str, env: dict[str, str]) -> dict[str, float] | str:
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([str(python), __file__, "--worker", target], capture_output=True, text=True, env=full_env)
    if out.returncode != 0:
        return out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(rounds: int, peers: bool) -> None:
    impls = {OURS: (Path(sys.executable), OURS, {})}
    if peers:
        for name, (suffix, packages, target, env) in PEERS.items():
            impls[name] = (_peer_python(suffix, packages), target, env)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in impls}
    failures: dict[str, str] = {}
    for round_number in range(rounds):
        for name, (python, target, env) in impls.items():  # interleaved: every implementation once per round
            if name in failures:
                continue
            result = _run(python, target, env)
            if isinstance(result, str):
                failures[name] = result
            else:
                results[name].append(result)
        print(f"round {round_number + 1}/{rounds} done", flush=True)
    table = {name: (statistics.median(r["call"] for r in rs), statistics.median(r["chunk"] for r in rs)) for name, rs in results.items() if rs}
    peer_calls = [c for name, (c, _) in table.items() if name != OURS]
    fastest = min(peer_calls) if peer_calls else None
    print(f"\nadded by the instrumentation, median of {rounds} interleaved rounds ({CALLS} calls, {CHUNKS}-chunk streams, content on)")
    print(f"{'implementation':<52}{'µs/call':>10}{'µs/chunk':>10}{'vs fastest peer':>17}")
    for name, (call, chunk) in sorted(table.items(), key=lambda kv: kv[1][0]):
        ratio = f"{call / fastest:.2f}x" if fastest else "-"
        print(f"{name:<52}{call:>10.1f}{chunk:>10.2f}{ratio:>17}")
    for name, error in failures.items():
        print(f"{name:<52} failed: {error}")


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    print(f"python {sys.version.split()[0]}, openai {openai.__version__}")
    compare(args.rounds, not args.no_peers)
    print(f"\nour stream proxy + recorder alone (content on): {stream_proxy_us():.2f} µs/chunk")
    print(f"AITracerSpanProcessor.on_end: {on_end_us():.2f} µs/span")


if __name__ == "__main__":
    main()
