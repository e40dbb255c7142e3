"""Per-framework overhead per agent step: the same agent (a tool call and a final answer: three steps)
run against the fake OpenAI endpoint on 127.0.0.1, with otel-aitracer's register() and without, each in
a fresh interpreter. Prints medians; asserts nothing.

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

from otel_aitracer.demo.fake_openai import FakeOpenAIServer  # noqa: E402

_AGENTS = {
    "openai_agents": """
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled
from openai import AsyncOpenAI
set_tracing_disabled({off})  # without us, the SDK's own tracing would upload to OpenAI
@function_tool
def get_weather(city: str) -> str:
    return f"sunny in {{city}}"
client = AsyncOpenAI(base_url=BASE_URL, api_key="sk-fake", max_retries=0)
agent = Agent(name="weather", model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client), tools=[get_weather])
async def one():
    await Runner.run(agent, "What is the weather in Paris?")
""",
    "pydantic_ai": """
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(base_url=BASE_URL, api_key="k")), name="weather")
@agent.tool_plain
def get_weather(city: str) -> str:
    return f"sunny in {{city}}"
async def one():
    await agent.run("What is the weather in Paris?")
""",
    "langgraph": """
import warnings
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import create_react_agent
@tool
def get_weather(city: str) -> str:
    \"\"\"The weather in a city.\"\"\"
    return f"sunny in {{city}}"
graph = create_react_agent(ChatOpenAI(model="gpt-4o-mini", base_url=BASE_URL, api_key="k", max_retries=0), [get_weather])
async def one():
    await graph.ainvoke({{"messages": [("user", "What is the weather in Paris?")]}}, config={{"configurable": {{"thread_id": "t"}}}})
""",
}

_CHILD = """
import asyncio, json, sys, time
BASE_URL = {base_url!r}
if {traced}:
    import otel_aitracer
    pipeline = otel_aitracer.register(store={store!r})
{agent}
async def main():
    for _ in range(10):
        await one()  # warm up: imports, connections, caches
    started = time.perf_counter()
    for _ in range({runs}):
        await one()
    return time.perf_counter() - started
elapsed = asyncio.run(main())
if {traced}:
    pipeline.shutdown()
print(json.dumps(elapsed))
"""

_STEPS_PER_RUN = 3  # model call, tool call, model call


def _per_step(framework: str, traced: bool, base_url: str, runs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        agent = _AGENTS[framework].format(off=not traced)
        code = _CHILD.format(base_url=base_url, traced=traced, store=str(Path(tmp) / "r.db"), agent=agent, runs=runs)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-fake"})
    if out.returncode != 0:
        raise SystemExit(f"{framework} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]) / runs / _STEPS_PER_RUN * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'framework':<16}{'off µs/step':>13}{'traced µs/step':>16}{'overhead':>11}")
    with FakeOpenAIServer() as fake:
        for framework in _AGENTS:
            off = statistics.median(_per_step(framework, False, fake.base_url, args.runs) for _ in range(args.repeat))
            on = statistics.median(_per_step(framework, True, fake.base_url, args.runs) for _ in range(args.repeat))
            print(f"{framework:<16}{off:>13.0f}{on:>16.0f}{on - off:>+10.0f}")


if __name__ == "__main__":
    main()
