"""What ``otel-aitracer serve`` records from each OpenAI instrumentation, exported over real OTLP/HTTP.

Each instrumentation runs in its own virtualenv (``bench/.venv-<peer>``, the ones
``bench_overhead.py`` uses, plus ``bench/.venv-logfire``; the OTLP exporter is added
on first use), instruments the real ``openai`` client, makes one chat call and one
streamed call to our fake OpenAI API on 127.0.0.1 inside a root span, and exports
to a serve process. The table shows the records serve made of each. Prints; asserts
nothing.

    .venv/bin/python bench/compat_serve.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
from bench_overhead import PEERS, _peer_python  # noqa: E402

from otel_aitracer.demo.fake_openai import FakeOpenAIServer  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

EXPORTER = "opentelemetry-exporter-otlp-proto-http"
WORKER = """
import importlib, sys
import openai
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

target, serve, fake = sys.argv[1:4]
exporter = OTLPSpanExporter(endpoint=serve + "/v1/traces")  # behind SimpleSpanProcessor: each span is sent as it ends
if target == "logfire":
    import logfire
    logfire.configure(send_to_logfire=False, console=False, additional_span_processors=[SimpleSpanProcessor(exporter)])
    logfire.instrument_openai()
    root = logfire.span("request")
else:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    module, name = target.split(":")
    instrumentor = getattr(importlib.import_module(module), name)()
    instrumentor.instrument(tracer_provider=provider, **({"capture_content": True} if module == "instrumentors.openai" else {}))
    root = provider.get_tracer("compat").start_as_current_span("request")
client = openai.OpenAI(api_key="sk-test", base_url=fake, max_retries=0)
messages = [{"role": "user", "content": "I am jane@example.com. What is OpenTelemetry?"}]
with root as span:
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    for _ in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}):
        pass
    trace_id = span.get_span_context().trace_id
print(format(trace_id, "032x"))
"""


def _python_with_exporter(suffix: str, packages: list[str]) -> Path:
    python = _peer_python(suffix, packages)
    if subprocess.run([str(python), "-c", "import opentelemetry.exporter.otlp.proto.http"], capture_output=True).returncode:
        subprocess.run([str(python), "-m", "pip", "install", "-q", EXPORTER], check=True)
    return python


def _targets() -> dict[str, tuple[Path, str, dict[str, str]]]:
    targets = {"otel-aitracer": (Path(sys.executable), "instrumentors.openai:OpenAIInstrumentor", {})}
    for name, (suffix, packages, target, env) in PEERS.items():
        targets[name] = (_python_with_exporter(suffix, packages), target, env)
    targets["Logfire (logfire.instrument_openai)"] = (_python_with_exporter("logfire", ["logfire"]), "logfire", {})
    return targets


def _summary(records: list[dict]) -> str:
    if not records:
        return "no record"
    parts = []
    for r in records:
        content = json.dumps(r.get("input"))
        pii = "redacted" if "[EMAIL]" in content else ("leaked" if "jane@example.com" in content else "no content")
        parts.append(f"{r['operation']} {r['model']} in={r['input_tokens']} out={r['output_tokens']} input {pii}")
    return "; ".join(parts)


def main() -> None:
    import os

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer() as fake:
        server = ServerProcess(Path(tmp) / "compat.db")
        try:
            print("| instrumentation | records serve made of one chat call and one streamed call |\n|---|---|")
            for name, (python, target, env) in _targets().items():
                run_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
                out = subprocess.run([str(python), "-c", textwrap.dedent(WORKER), target, server.url, fake.base_url],
                                     capture_output=True, text=True, env=run_env, timeout=180)  # fmt: skip
                if out.returncode != 0:
                    print(f"| {name} | failed: {(out.stderr.strip().splitlines() or ['?'])[-1]} |")
                    continue
                trace_id = out.stdout.strip().splitlines()[-1]
                answer = httpx.get(f"{server.url}/api/v1/traces/{trace_id}", timeout=10)
                records = answer.json().get("logs", []) if answer.status_code == 200 else []
                print(f"| {name} | {_summary(records)} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
