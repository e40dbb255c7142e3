"""The same small agent in each framework (a tool call, then a final answer), as code for a fresh
interpreter, and :func:`run_agents`, which runs it: used by ``tests/test_frameworks*.py`` and
``bench/bench_frameworks.py``.

Each snippet expects ``BASE_URL`` (the fake provider's endpoint: Gemini for ADK, OpenAI otherwise) and
defines ``async def one(city)``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from otel_aitracer.demo.fake_gemini import FakeGeminiServer
from otel_aitracer.demo.fake_openai import FakeOpenAIServer

from .helpers import run_python

AGENTS: dict[str, str] = {
    "openai_agents": """
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
from openai import AsyncOpenAI

@function_tool
def get_weather(city: str) -> str:
    return f"sunny in {city}"

_client = AsyncOpenAI(base_url=BASE_URL, api_key="sk-fake", max_retries=0)
_agent = Agent(name="weather_agent", model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=_client), tools=[get_weather])

async def one(city):
    await Runner.run(_agent, f"What is the weather in {city}?")
""",
    "pydantic_ai": """
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
_agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(base_url=BASE_URL, api_key="k")), name="weather_agent", instructions="Be brief.")

@_agent.tool_plain
def get_weather(city: str) -> str:
    return f"sunny in {city}"

async def one(city):
    await _agent.run(f"What is the weather in {city}?")
""",
    "langgraph": """
import warnings
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # create_react_agent moved to langchain.agents, not installed here
    from langgraph.prebuilt import create_react_agent

@tool
def get_weather(city: str) -> str:
    \"\"\"The weather in a city.\"\"\"
    return f"sunny in {city}"

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _graph = create_react_agent(ChatOpenAI(model="gpt-4o-mini", base_url=BASE_URL, api_key="k", max_retries=0), [get_weather], name="weather_agent")

async def one(city):
    await _graph.ainvoke({"messages": [("user", f"What is the weather in {city}?")]}, config={"configurable": {"thread_id": f"thread-{city}"}})
""",
    "google_adk": """
import os
os.environ["GOOGLE_GEMINI_BASE_URL"] = BASE_URL
os.environ["GOOGLE_API_KEY"] = "fake"
from google.adk.agents import LlmAgent
from google.adk.runners import InMemoryRunner
from google.genai import types

def get_weather(city: str) -> str:
    \"\"\"The weather in a city.\"\"\"
    return f"sunny in {city}"

_agent = LlmAgent(name="weather_agent", model="gemini-2.0-flash", instruction="Be brief.", tools=[get_weather])
_runner = InMemoryRunner(agent=_agent, app_name="weather")

_calls = {}

async def one(city):
    _calls[city] = n = _calls.get(city, 0) + 1  # a session id once per city (the benchmark asks again and again)
    session = await _runner.session_service.create_session(app_name="weather", user_id="u", session_id=f"session-{city}" + (f"-{n}" if n > 1 else ""))
    message = types.Content(role="user", parts=[types.Part(text=f"What is the weather in {city}?")])
    async for _ in _runner.run_async(user_id="u", session_id=session.id, new_message=message):
        pass
""",
    "strands": """
from strands import Agent, tool
from strands.models.openai import OpenAIModel

@tool
def get_weather(city: str) -> str:
    \"\"\"The weather in a city.\"\"\"
    return f"sunny in {city}"

async def one(city):
    model = OpenAIModel(client_args={"api_key": "k", "base_url": BASE_URL, "max_retries": 0}, model_id="gpt-4o-mini")
    agent = Agent(model=model, tools=[get_weather], name="weather_agent", callback_handler=None, trace_attributes={"session.id": f"session-{city}"})
    await agent.invoke_async(f"What is the weather in {city}?")
""",
}

# The module whose import turns each framework on (nothing of it may be loaded before the app imports it).
MODULES = {"openai_agents": "agents", "pydantic_ai": "pydantic_ai", "langgraph": "langchain_core", "google_adk": "google.adk", "strands": "strands"}
FAKES = {"google_adk": FakeGeminiServer}  # the fake provider each agent talks to (OpenAI's otherwise)

_HARNESS = """
import asyncio, json, sys
import otel_aitracer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
pipeline = otel_aitracer.register(store={store!r}{options})
spans = InMemorySpanExporter()
pipeline.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
assert {module!r} not in sys.modules  # not imported on the app's behalf
BASE_URL = {base_url!r}
{agent}
async def main():
    await asyncio.gather(*(one(city) for city in {cities!r}))

asyncio.run(main())
pipeline.shutdown()
by_id = {{s.context.span_id: s for s in spans.get_finished_spans()}}
print(json.dumps([{{"name": s.name, "scope": s.instrumentation_scope.name,
                   "parent": by_id[s.parent.span_id].name if s.parent and s.parent.span_id in by_id else None}}
                  for s in spans.get_finished_spans()]))
"""


def run_agents(tmp_path: Any, framework: str, cities: tuple[str, ...] = ("Paris",), options: str = "", python: str | None = None) -> tuple[list[dict], list[dict], Any]:
    """Run the framework's agent for each city at once in a fresh interpreter (``python``: another environment's);
    its spans, the records, the fake provider."""
    if python is None:
        pytest.importorskip(MODULES[framework], reason="the frameworks extra is part of the dev install")
    from otel_aitracer._destinations._store import SQLiteStore

    store = str(tmp_path / "r.db")
    with FAKES.get(framework, FakeOpenAIServer)() as fake:
        code = _HARNESS.format(store=store, options=options, module=MODULES[framework], base_url=fake.base_url, agent=AGENTS[framework], cities=list(cities))
        result = run_python(code, timeout=180, python=python or sys.executable)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Failed to detach context" not in result.stderr  # no error in the app's log for an async call
    return json.loads(result.stdout.strip().splitlines()[-1]), SQLiteStore(store).query(), fake


def runs_of(records: list[dict], n: int) -> list[list[dict]]:
    """The records of each of ``n`` concurrent runs (one trace each)."""
    runs: dict[str, list[dict]] = {}
    for record in records:
        runs.setdefault(record["trace_id"], []).append(record)
    assert len(runs) == n
    return list(runs.values())
