"""The Agents SDK bridge with the real openai-agents Runner against the fake OpenAI API on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest
from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner, function_tool, set_trace_processors
from openai import AsyncOpenAI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors.openai import OpenAIInstrumentor
from otel_aitracer import AITracerSpanProcessor, span_to_record
from otel_aitracer._store import SQLiteStore
from otel_aitracer.agents import AITracerTracingProcessor


@function_tool
def get_weather(query: str) -> str:
    """Current weather for a city."""
    return "rainy, 14C"


@pytest.fixture
def setup(fake_openai, tmp_path, monkeypatch):
    """A provider with an in-memory exporter and our record processor; the bridge as the only SDK processor."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    records = AITracerSpanProcessor(store=tmp_path / "r.db", sync=True)
    provider.add_span_processor(records)
    bridge = AITracerTracingProcessor(tracer_provider=provider)
    set_trace_processors([bridge])
    yield provider, exporter, tmp_path / "r.db", bridge
    set_trace_processors([])
    records.shutdown()


def run_weather(fake_openai, **config) -> str:
    async def main() -> str:
        client = AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-fake", max_retries=0)
        agent = Agent(name="weather", instructions="Answer weather questions.", tools=[get_weather], model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client))
        result = await Runner.run(agent, "What's the weather in Paris?", run_config=RunConfig(group_id="thread-7", **config))
        return result.final_output

    return asyncio.run(main())


def by_name(spans, prefix):
    return [s for s in spans if s.name.startswith(prefix)]


def test_a_run_becomes_nested_genai_spans_and_records(setup, fake_openai):
    provider, exporter, store, _ = setup
    before = len(fake_openai.requests)
    assert "rainy" in run_weather(fake_openai)
    spans = exporter.get_finished_spans()
    [workflow] = by_name(spans, "invoke_workflow")
    [agent] = by_name(spans, "invoke_agent weather")
    [tool] = by_name(spans, "execute_tool get_weather")
    chats = by_name(spans, "chat gpt-4o-mini")
    assert len(chats) == len(fake_openai.requests) - before == 2  # one chat span per model request
    assert workflow.attributes["gen_ai.conversation.id"] == "thread-7"
    ids = {s.context.span_id: s for s in spans}

    def ancestors(span):
        while span.parent is not None and span.parent.span_id in ids:
            span = ids[span.parent.span_id]
            yield span

    assert workflow in ancestors(agent) and agent in ancestors(tool) and all(agent in ancestors(c) for c in chats)
    assert tool.attributes["gen_ai.tool.call.result"] == "rainy, 14C"
    records = SQLiteStore(store).query(newest_first=False)
    steps = [(r["operation"], r.get("agent_name"), r.get("tool_name"), r.get("step_index")) for r in records if r["operation"] != "invoke_workflow"]
    assert [s[0] for s in sorted(steps, key=lambda s: s[3])] == ["invoke_agent", "chat", "execute_tool", "chat"]
    assert all(r["session_id"] == "thread-7" for r in records if r["operation"] in ("invoke_workflow", "invoke_agent"))
    chat_records = [r for r in records if r["operation"] == "chat"]
    assert sum(r["input_tokens"] for r in chat_records) > 0


def test_with_our_openai_instrumentor_each_model_call_is_one_span(setup, fake_openai):
    provider, exporter, _, _ = setup
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        run_weather(fake_openai)
    finally:
        instrumentor.uninstrument()
    spans = exporter.get_finished_spans()
    chats = [s for s in spans if span_to_record(s) is not None and s.attributes["gen_ai.operation.name"] == "chat"]
    assert len(chats) == 2 and all(s.instrumentation_scope.name == "instrumentors.openai" for s in chats)
    [agent] = by_name(spans, "invoke_agent")
    ids = {s.context.span_id: s for s in spans}
    for chat in chats:  # nested under the agent through the turn span the bridge made current
        parent = ids[chat.parent.span_id]
        while parent is not agent and parent.parent is not None:
            parent = ids[parent.parent.span_id]
        assert parent is agent


def test_the_workflow_nests_under_the_apps_span(setup, fake_openai):
    provider, exporter, _, _ = setup
    with provider.get_tracer("app").start_as_current_span("handle request") as app:
        run_weather(fake_openai)
    [workflow] = by_name(exporter.get_finished_spans(), "invoke_workflow")
    assert workflow.parent.span_id == app.get_span_context().span_id


def test_sensitive_data_off_records_no_content(setup, fake_openai):
    _, exporter, _, _ = setup
    run_weather(fake_openai, trace_include_sensitive_data=False)
    for span in exporter.get_finished_spans():
        assert not {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"} & set(span.attributes)


def test_processor_methods_never_raise(setup):
    _, exporter, _, bridge = setup

    class Junk:
        trace_id = "trace_x"
        span_id = "span_x"
        parent_id = "span_missing"
        started_at = "not a time"
        ended_at = None
        error = {"message": "boom"}
        span_data = object()

    bridge.on_span_end(Junk())  # ended before it started
    bridge.on_span_start(Junk())  # no trace
    bridge.on_span_end(Junk())
    bridge.on_trace_end(Junk())  # a trace that never started
    bridge.on_span_start(None)
    bridge.shutdown()
    bridge.shutdown()
    bridge.force_flush()
    assert all(s.status.status_code.name in ("ERROR", "UNSET") for s in exporter.get_finished_spans())


def test_register_bridges_the_agents_sdk_when_the_app_imports_it(tmp_path, fake_openai):
    from .helpers import run_python

    result = run_python(
        f"""
        import asyncio, os, sys
        os.environ["OPENAI_API_KEY"] = "sk-fake"
        import otel_aitracer
        pipeline = otel_aitracer.register(store={str(tmp_path / "r.db")!r})
        assert "agents" not in sys.modules  # not imported on the app's behalf
        from agents import Agent, OpenAIChatCompletionsModel, Runner
        from openai import AsyncOpenAI
        client = AsyncOpenAI(base_url={fake_openai.base_url!r}, api_key="sk-fake", max_retries=0)
        agent = Agent(name="helper", model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client))
        asyncio.run(Runner.run(agent, "hello"))
        pipeline.shutdown()
        from otel_aitracer._store import SQLiteStore
        print(sorted(r["operation"] for r in SQLiteStore({str(tmp_path / "r.db")!r}).query()))
        """
    )
    assert result.returncode == 0, result.stderr
    # our OpenAI instrumentor makes the chat span; the bridge adds the workflow and the agent
    assert result.stdout.strip().splitlines()[-1] == "['chat', 'invoke_agent', 'invoke_workflow']"
