"""Per-framework overhead per agent step: the same agent (a tool call and a final answer: three steps)
run against the fake provider endpoint on 127.0.0.1, with otel-aitracer's register() and without, each in
a fresh interpreter. Google ADK and Strands run in the tests' compat environment (``.venv-compat``, built
on first use). Prints medians; asserts nothing.

    .venv/bin/python bench/bench_frameworks.py [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from otel_aitracer._instrumentors import findable  # noqa: E402
from otel_aitracer.demo.fake_openai import FakeOpenAIServer  # noqa: E402
from tests.compat_env import compat_python  # noqa: E402
from tests.framework_agents import AGENTS, FAKES, MODULES  # noqa: E402

_CHILD = """
import asyncio, json, sys, time
BASE_URL = {base_url!r}
if {traced}:
    import otel_aitracer
    pipeline = otel_aitracer.register(store={store!r})
else:  # without us, the Agents SDK's own tracing would try to upload to OpenAI
    import os
    os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
{agent}
async def main():
    for _ in range(10):
        await one("Paris")  # warm up: imports, connections, caches
    started = time.perf_counter()
    for _ in range({runs}):
        await one("Paris")
    return time.perf_counter() - started
elapsed = asyncio.run(main())
if {traced}:
    pipeline.shutdown()
print(json.dumps(elapsed))
"""

_STEPS_PER_RUN = 3  # model call, tool call, model call


def _per_step(framework: str, traced: bool, base_url: str, runs: int, python: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        code = _CHILD.format(base_url=base_url, traced=traced, store=str(Path(tmp) / "r.db"), agent=AGENTS[framework], runs=runs)
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-fake"})
    if out.returncode != 0:
        raise SystemExit(f"{framework} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]) / runs / _STEPS_PER_RUN * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'framework':<16}{'off µs/step':>13}{'traced µs/step':>16}{'overhead':>11}")
    for framework in AGENTS:
        python = sys.executable if findable(MODULES[framework]) else compat_python()
        with FAKES.get(framework, FakeOpenAIServer)() as fake:
            try:
                off = statistics.median(_per_step(framework, False, fake.base_url, args.runs, python) for _ in range(args.repeat))
                on = statistics.median(_per_step(framework, True, fake.base_url, args.runs, python) for _ in range(args.repeat))
            except SystemExit as failed:  # one framework's failure (printed) does not hide the others' numbers
                print(f"{framework:<16}failed: {str(failed).splitlines()[-1]}")
                continue
        print(f"{framework:<16}{off:>13.0f}{on:>16.0f}{on - off:>+10.0f}")


if __name__ == "__main__":
    main()
