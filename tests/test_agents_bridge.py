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
from otel_aitracer._destinations._store import SQLiteStore
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


USAGE: dict[str, int] = {}


def run_weather(fake_openai, **config) -> str:
    async def main() -> str:
        client = AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-fake", max_retries=0)
        agent = Agent(name="weather", instructions="Answer weather questions.", tools=[get_weather], model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client))
        result = await Runner.run(agent, "What's the weather in Paris?", run_config=RunConfig(group_id="thread-7", **config))
        usage = result.context_wrapper.usage  # what the SDK counted from the fake's answers
        USAGE.update(input=usage.input_tokens, output=usage.output_tokens)
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
    [tool_record] = [r for r in records if r["operation"] == "execute_tool"]
    assert tool_record["tool_name"] == "get_weather" and tool_record["output"] == {"result": "rainy, 14C"}
    assert tool_record["input"] == {"arguments": {"query": "What's the weather in Paris?"}}
    steps = [(r["operation"], r.get("agent_name"), r.get("tool_name"), r.get("step_index")) for r in records if r["operation"] != "invoke_workflow"]
    assert [s[0] for s in sorted(steps, key=lambda s: s[3])] == ["invoke_agent", "chat", "execute_tool", "chat"]
    assert all(r["session_id"] == "thread-7" for r in records if r["operation"] in ("invoke_workflow", "invoke_agent"))
    chat_records = [r for r in records if r["operation"] == "chat"]
    assert sum(r["input_tokens"] for r in chat_records) == USAGE["input"] > 0
    assert sum(r["output_tokens"] for r in chat_records) == USAGE["output"] > 0


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


def test_model_calls_our_instrumentor_makes_inside_a_run_carry_the_agent_conversation_and_step(setup, fake_openai):
    """SPEC §4: every record of a model call inside an agent run has the run's agent, conversation and step, whichever
    layer made the span (here our OpenAI instrumentor, with the bridge making agent and tool spans)."""
    provider, exporter, store, _ = setup
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        run_weather(fake_openai)
    finally:
        instrumentor.uninstrument()
    chats = [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == "instrumentors.openai"]
    assert len(chats) == 2 and all(s.attributes["gen_ai.agent.name"] == "weather" for s in chats)
    assert all(s.attributes["gen_ai.conversation.id"] == "thread-7" for s in chats)
    records = SQLiteStore(store).query(newest_first=False)
    steps = sorted((r["step_index"], r["operation"]) for r in records if r["operation"] != "invoke_workflow")
    assert [op for _, op in steps] == ["invoke_agent", "chat", "execute_tool", "chat"]  # one numbering for the run
    assert [index for index, _ in steps] == [0, 1, 2, 3]
    for record in (r for r in records if r["operation"] == "chat"):
        assert (record["agent_name"], record["session_id"]) == ("weather", "thread-7")


def test_the_workflow_nests_under_the_apps_span_without_detach_errors(setup, fake_openai, caplog):
    provider, exporter, _, _ = setup
    with provider.get_tracer("app").start_as_current_span("handle request") as app:
        run_weather(fake_openai)
    assert "Failed to detach context" not in caplog.text
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
        from otel_aitracer._destinations._store import SQLiteStore
        print(sorted(r["operation"] for r in SQLiteStore({str(tmp_path / "r.db")!r}).query()))
        """
    )
    assert result.returncode == 0, result.stderr
    # our OpenAI instrumentor makes the chat span; the bridge adds the workflow and the agent
    assert result.stdout.strip().splitlines()[-1] == "['chat', 'invoke_agent', 'invoke_workflow']"


def _model(fake_openai, responses: bool = False):
    from agents import OpenAIResponsesModel

    client = AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-fake", max_retries=0)
    return OpenAIResponsesModel(model="gpt-4.1-mini", openai_client=client) if responses else OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)


def test_handoff_guardrails_failing_tool_and_custom_span(setup, fake_openai):
    from agents import GuardrailFunctionOutput, InputGuardrailTripwireTriggered, custom_span, input_guardrail, trace

    _, exporter, _, _ = setup

    @function_tool
    def broken(query: str) -> str:
        """Always fails."""
        raise RuntimeError("backend down")

    @input_guardrail
    async def polite(ctx, agent, text):
        return GuardrailFunctionOutput(output_info=None, tripwire_triggered="rude" in str(text))

    async def main():
        model = _model(fake_openai)
        worker = Agent(name="worker", instructions="Use the tool.", tools=[broken], model=model)
        triage = Agent(name="triage", instructions="Hand over.", handoffs=[worker], input_guardrails=[polite], model=model)
        with trace("support", group_id="thread-9"):
            with custom_span("lookup", data={"source": "crm"}):
                pass
            await Runner.run(worker, "please fix it")
            await Runner.run(triage, "please help")
            with pytest.raises(InputGuardrailTripwireTriggered):
                await Runner.run(triage, "you are rude")

    asyncio.run(main())
    spans = exporter.get_finished_spans()
    [handoff] = [s for s in spans if s.attributes.get("openai.agents.span_type") == "handoff"]
    assert (handoff.attributes["openai.agents.handoff.from"], handoff.attributes["openai.agents.handoff.to"]) == ("triage", "worker")
    [custom] = [s for s in spans if s.name == "lookup"]
    assert custom.attributes["openai.agents.custom.data"] == '{"source":"crm"}'
    [tool] = by_name(spans, "execute_tool broken")
    assert tool.status.status_code.name == "ERROR"
    guardrails = [s for s in spans if s.attributes.get("openai.agents.span_type") == "guardrail"]
    assert sorted(s.attributes["openai.agents.guardrail.triggered"] for s in guardrails) == [False, True]
    tripped = [s for s in spans if s.status.status_code.name == "ERROR" and "tripwire" in (s.status.description or "")]
    assert len(tripped) == 1  # openai-agents 0.24 reports it on the turn
    assert [s.attributes.get("gen_ai.conversation.id") for s in by_name(spans, "invoke_workflow")] == ["thread-9"]


def test_streamed_and_responses_runs(setup, fake_openai):
    _, exporter, _, _ = setup

    async def main():
        agent = Agent(name="weather", tools=[get_weather], model=_model(fake_openai, responses=True))
        await Runner.run(agent, "weather in Oslo?")
        streamed = Runner.run_streamed(Agent(name="streamer", model=_model(fake_openai)), "tell me")
        async for _ in streamed.stream_events():
            pass

    asyncio.run(main())
    spans = exporter.get_finished_spans()
    assert len(by_name(spans, "invoke_workflow")) == 2
    assert len(by_name(spans, "chat gpt-4.1-mini")) == 2 and len(by_name(spans, "chat gpt-4o-mini")) == 1
    # the Responses model reports usage; a streamed chat-completions run has none unless include_usage is set
    assert all(s.attributes["gen_ai.usage.input_tokens"] > 0 for s in by_name(spans, "chat gpt-4.1-mini"))


def test_concurrent_runs_never_mix(setup, fake_openai):
    _, exporter, _, _ = setup

    async def main():
        agents_ = [Agent(name=f"a{i}", tools=[get_weather], model=_model(fake_openai)) for i in range(3)]
        await asyncio.gather(*(Runner.run(a, "weather?", run_config=RunConfig(group_id=f"g{i}")) for i, a in enumerate(agents_)))

    asyncio.run(main())
    spans = exporter.get_finished_spans()
    ids = {s.context.span_id: s for s in spans}
    for span in spans:
        if span.name.startswith(("execute_tool", "chat", "invoke_agent")):
            root = span
            while root.parent is not None and root.parent.span_id in ids:
                root = ids[root.parent.span_id]
            agent = next(p for p in [span, *_ancestors(span, ids)] if p.name.startswith("invoke_agent"))
            assert root.attributes["gen_ai.conversation.id"] == f"g{agent.name[-1]}"


def _ancestors(span, ids):
    while span.parent is not None and span.parent.span_id in ids:
        span = ids[span.parent.span_id]
        yield span


def test_register_agents_tracing_keeps_or_replaces_the_default_upload(tmp_path):
    from .helpers import run_python

    result = run_python(
        f"""
        import otel_aitracer
        from agents.tracing import get_trace_provider
        otel_aitracer.register(store={str(tmp_path / "r.db")!r}, agents=False)
        kept = otel_aitracer.register_agents_tracing()
        again = otel_aitracer.register_agents_tracing()
        names = [type(p).__name__ for p in get_trace_provider()._multi_processor._processors]
        print(kept is again, names)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True ['BatchTraceProcessor', 'AITracerTracingProcessor']"
    replaced = run_python(
        f"""
        import otel_aitracer
        from agents.tracing import get_trace_provider, set_tracing_disabled
        set_tracing_disabled(True)
        otel_aitracer.register(store={str(tmp_path / "r2.db")!r}, agents=False)
        otel_aitracer.register_agents_tracing(replace_default=True)
        print([type(p).__name__ for p in get_trace_provider()._multi_processor._processors])
        """
    )
    assert replaced.returncode == 0, replaced.stderr
    assert replaced.stdout.strip() == "['AITracerTracingProcessor']"
    assert "tracing is disabled" in replaced.stderr


def test_run_sync_in_a_thread(setup, fake_openai):
    import threading

    _, exporter, _, _ = setup
    client = AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-fake", max_retries=0)
    agent = Agent(name="sync", model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client))
    thread = threading.Thread(target=lambda: Runner.run_sync(agent, "hello"))
    thread.start()
    thread.join()
    assert [s.name for s in by_name(exporter.get_finished_spans(), "invoke_")] == ["invoke_agent sync", "invoke_workflow Agent workflow"]


def test_trace_metadata_becomes_record_metadata_and_force_flush_writes(fake_openai, tmp_path):
    """With the usual batching processor, the SDK's flush_traces() reaches our pipeline."""
    from .helpers import run_python

    result = run_python(
        f"""
        import asyncio, os
        os.environ["OPENAI_API_KEY"] = "sk-fake"
        import otel_aitracer
        from otel_aitracer._destinations._store import SQLiteStore
        pipeline = otel_aitracer.register(store={str(tmp_path / "r.db")!r}, instrument=False)
        from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner, flush_traces
        from openai import AsyncOpenAI
        client = AsyncOpenAI(base_url={fake_openai.base_url!r}, api_key="sk-fake", max_retries=0)
        agent = Agent(name="helper", instructions="Be brief.", model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client))
        asyncio.run(Runner.run(agent, "hello", run_config=RunConfig(trace_metadata={{"tier": "gold"}}, group_id="g1")))
        flush_traces()  # no shutdown: the records must be in the store already
        records = SQLiteStore({str(tmp_path / "r.db")!r}).query()
        print(sorted(r["operation"] for r in records), [r["metadata"] for r in records if r["operation"] == "invoke_workflow"])
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['chat', 'invoke_agent', 'invoke_workflow'] [{'tier': 'gold'}]"
