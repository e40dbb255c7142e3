"""``otel-aitracer demo``: real SDK calls against local fake APIs, recorded offline.

OpenAI always; Anthropic and Gemini too when their SDKs are installed (``.[anthropic,gemini]``).
One prompt carries an email address, to show it redacted in the store.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import Any

from .. import _register
from .._config import resolve_settings
from .._destinations._store import SQLiteStore
from .._scope import _context
from ..cli import _records, _stats
from ..cli._invocation import command
from .fake_anthropic import FakeAnthropicServer
from .fake_gemini import FakeGeminiServer
from .fake_openai import FakeOpenAIServer

_WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}


def run_demo(store: str | os.PathLike[str] | None = None) -> int:
    try:
        import openai
    except ImportError:
        print("otel-aitracer demo needs the openai SDK: pip install 'otel-aitracer[openai]'", file=sys.stderr)
        return 2
    settings = resolve_settings(store=store)
    others = [name for name, module in (("anthropic", "anthropic"), ("google_genai", "google.genai")) if _installed(module)]
    with FakeOpenAIServer() as fake, FakeAnthropicServer() as claude, FakeGeminiServer() as gemini:
        pipeline = _register.register(project="demo", store=settings.store, api_key=None, instrument=["openai", *others])
        client = openai.OpenAI(api_key="sk-demo-not-a-real-key", base_url=fake.base_url, max_retries=0)
        trace_ids = _conversations(client, openai)
        if others:
            trace_ids.append(_other_providers(others, claude.base_url, gemini.base_url))
        pipeline.flush(timeout=10)
        pipeline.shutdown()
    records_db = SQLiteStore(settings.store)
    mine = [r for trace_id in trace_ids for r in records_db.query(trace=trace_id, newest_first=False)]
    print(f"\nRecorded {len(mine)} LLM calls to {settings.store}:\n")
    print(_records.logs_table(mine))
    print("\nBy user:\n")
    print(_stats.stats_table(_stats.summarize(records_db, "user", project="demo"), "user"))
    print(f"\nOne trace as a tree ({command('trace', trace_ids[-1], '--store', str(settings.store))}):\n")
    print(_records.trace_tree([r for r in mine if r["trace_id"] == trace_ids[-1]]))
    print(f"\nNext: {command('logs', '--store', str(settings.store))} ; {command('stats', '--by', 'model', '--store', str(settings.store))}")
    return 0


def _conversations(client: Any, openai: Any) -> list[str]:
    """Two users, two sessions, a stream, a tool call and an error; returns the trace ids."""
    trace_ids = []
    with _context.session("sess-alice-1", user_id="alice", metadata={"channel": "web"}):
        with _context.trace(name="alice asks about Python") as t:
            trace_ids.append(t.trace_id)
            history = [{"role": "system", "content": "You are a concise assistant."}, {"role": "user", "content": "Which Python version should I use?"}]
            first = client.chat.completions.create(model="gpt-4o-mini", messages=history, temperature=0.3)
            history += [{"role": "assistant", "content": first.choices[0].message.content}, {"role": "user", "content": "And for type hints?"}]
            stream = client.chat.completions.create(model="gpt-4o-mini", messages=history, stream=True, stream_options={"include_usage": True})
            print("streamed:", "".join(c.choices[0].delta.content or "" for c in stream if c.choices))
    with _context.session("sess-bob-1", user_id="bob", metadata={"channel": "slack"}):
        with _context.trace(name="bob checks the weather") as t:
            trace_ids.append(t.trace_id)
            t.add_tag("tools")
            messages = [{"role": "user", "content": "What's the weather in Paris?"}]
            call = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[_WEATHER_TOOL])
            tool_call = call.choices[0].message.tool_calls[0]
            messages += [call.choices[0].message.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": tool_call.id, "content": json.dumps({"temp_c": 14, "sky": "rain"})}]
            client.chat.completions.create(model="gpt-4o", messages=messages, tools=[_WEATHER_TOOL])
            try:
                client.chat.completions.create(model="error-429", messages=[{"role": "user", "content": "Once more, please"}])
            except openai.RateLimitError as exc:
                print("expected error recorded:", exc.message if hasattr(exc, "message") else exc)
    return trace_ids


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _other_providers(names: list[str], anthropic_url: str, gemini_url: str) -> str:
    """Carol asks Claude and Gemini the same question, leaving her email in the prompt (it is redacted)."""
    question = "Summarize OpenTelemetry in one line, and mail it to carol@example.com"
    with _context.session("sess-carol-1", user_id="carol"), _context.trace(name="carol compares providers") as t:
        if "anthropic" in names:
            import anthropic

            claude = anthropic.Anthropic(api_key="sk-ant-demo", base_url=anthropic_url, max_retries=0)
            claude.messages.create(model="claude-haiku-4-5", max_tokens=100, system="Be brief.", messages=[{"role": "user", "content": question}])
        if "google_genai" in names:
            from google import genai

            gemini = genai.Client(api_key="gm-demo", http_options={"base_url": gemini_url})
            gemini.models.generate_content(model="gemini-2.5-flash", contents=question)
        return t.trace_id
