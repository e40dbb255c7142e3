"""The same small agent in each framework (a tool call, then a final answer), as code for a fresh
interpreter: used by ``tests/test_frameworks.py`` and ``bench/bench_frameworks.py``.

Each snippet expects ``BASE_URL`` (the fake OpenAI endpoint) and defines ``async def one(city)``.
"""

from __future__ import annotations

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
}

# The module whose import turns each framework on (nothing of it may be loaded before the app imports it).
MODULES = {"openai_agents": "agents", "pydantic_ai": "pydantic_ai", "langgraph": "langchain_core"}
