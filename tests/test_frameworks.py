"""Agent frameworks through their own tracing (Pydantic AI), and the conventions' ownership rule: the first
instrumentation to handle a model call owns it; ours, nested in a framework's model span, only adds to it."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from instrumentors.openai import OpenAIInstrumentor

from .framework_agents import run_agents, runs_of
from .helpers import USER, run_python


def test_a_model_call_inside_another_instrumentations_model_span_is_that_span(tracer_provider, span_exporter, client):
    reader = InMemoryMetricReader()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader]), capture_content=True)
    try:
        framework = tracer_provider.get_tracer("some.framework")
        with framework.start_as_current_span("chat gpt-4o-mini", attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "theirs"}):
            client.chat.completions.create(model="gpt-4o-mini", messages=USER)
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)  # no framework: ours owns it
    finally:
        instrumentor.uninstrument()
    framework_span, ours = span_exporter.get_finished_spans()
    assert framework_span.instrumentation_scope.name == "some.framework"  # one span for the first call
    assert framework_span.attributes["gen_ai.request.model"] == "theirs"  # the owner's values win
    assert framework_span.attributes["gen_ai.usage.input_tokens"] > 0  # what it lacked, ours added
    assert framework_span.attributes["openai.response.service_tier"] == "default"
    assert ours.instrumentation_scope.name == "instrumentors.openai" and ours.parent is None
    points = [p for m in reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics if m.name == "gen_ai.client.operation.duration" for p in m.data.data_points]
    assert sum(p.count for p in points) == 1  # metrics too: only the call ours owned


@pytest.mark.parametrize("ours", [True, False], ids=["with our OpenAI instrumentor", "without it"])
def test_pydantic_ai_runs_become_the_same_tree_and_records_either_way(tmp_path, ours):
    spans, records, fake = run_agents(tmp_path, "pydantic_ai", options="" if ours else ", instrument=False")
    assert {s["scope"] for s in spans} == {"pydantic-ai"}  # one producer for each span
    assert sorted((s["name"], s["parent"]) for s in spans) == [
        ("chat gpt-4o-mini", "invoke_agent weather_agent"),
        ("chat gpt-4o-mini", "invoke_agent weather_agent"),
        ("execute_tool get_weather", "invoke_agent weather_agent"),
        ("invoke_agent weather_agent", None),
    ]
    assert len(fake.requests) == 2 == sum(r["operation"] == "chat" for r in records)  # one LLM record per request
    by_step = {r["step_index"]: r for r in records if r["operation"] != "invoke_agent"}
    assert [(by_step[i]["operation"], by_step[i].get("tool_name")) for i in range(3)] == [("chat", None), ("execute_tool", "get_weather"), ("chat", None)]
    assert {r["agent_name"] for r in records} == {"weather_agent"}
    assert len({r["session_id"] for r in records}) == 1 and records[0]["session_id"]  # Pydantic AI's conversation id
    assert by_step[1]["input"] == {"arguments": {"city": "What is the weather in Paris?"}} and by_step[1]["output"] == {"result": "sunny in What is the weather in Paris?"}
    assert by_step[2]["input"]["messages"][-1]["content"] == "sunny in What is the weather in Paris?"  # its "result" dialect, read


def test_concurrent_pydantic_ai_runs_never_mix(tmp_path):
    spans, records, fake = run_agents(tmp_path, "pydantic_ai", cities=("Paris", "Oslo", "Lima"))
    assert len(fake.requests) == 6 == sum(r["operation"] == "chat" for r in records)
    for run in runs_of(records, 3):
        assert len({r["session_id"] for r in run}) == 1
        assert sorted(r["step_index"] for r in run if r["operation"] != "invoke_agent") == [0, 1, 2]
        (tool,) = [r for r in run if r["operation"] == "execute_tool"]
        city = tool["input"]["arguments"]["city"]
        assert all(city in json.dumps(r["input"]) for r in run if r["operation"] == "chat")


def test_a_framework_left_out_is_not_turned_on(tmp_path):
    spans, records, fake = run_agents(tmp_path, "pydantic_ai", options=", frameworks=['openai_agents']")
    assert {s["scope"] for s in spans} == {"instrumentors.openai"}  # our instrumentor owns the model calls alone
    assert sorted(r["operation"] for r in records) == ["chat", "chat"]


@pytest.mark.parametrize("ours", [True, False], ids=["with our OpenAI instrumentor", "without it"])
def test_langgraph_runs_become_a_tree_through_our_callback_handler(tmp_path, ours):
    spans, records, fake = run_agents(tmp_path, "langgraph", options="" if ours else ", instrument=False")
    assert {s["scope"] for s in spans} == {"otel_aitracer.langchain"}  # our OpenAI instrumentor only added to the chat spans
    assert sorted((s["name"], s["parent"]) for s in spans) == [
        ("chat gpt-4o-mini", "invoke_agent agent"),
        ("chat gpt-4o-mini", "invoke_agent agent"),
        ("execute_tool get_weather", "invoke_agent tools"),
        ("invoke_agent agent", "invoke_workflow weather_agent"),
        ("invoke_agent agent", "invoke_workflow weather_agent"),
        ("invoke_agent tools", "invoke_workflow weather_agent"),
        ("invoke_workflow weather_agent", None),
    ]
    chats = [r for r in records if r["operation"] == "chat"]
    assert len(fake.requests) == 2 == len(chats)  # one LLM record per request the provider received
    assert all(r["input_tokens"] > 0 and r["model"] == "gpt-4o-mini-2024-07-18" for r in chats)
    assert {r["session_id"] for r in records} == {"thread-Paris"}  # LangGraph's thread_id
    steps = sorted((r["step_index"], r["operation"], r.get("tool_name")) for r in records if r.get("step_index") is not None)
    assert steps == [(0, "chat", None), (1, "execute_tool", "get_weather"), (2, "chat", None)]
    (tool_record,) = [r for r in records if r["operation"] == "execute_tool"]
    assert tool_record["output"] == {"result": "sunny in What is the weather in Paris?"}


def test_concurrent_langgraph_runs_never_mix(tmp_path):
    spans, records, fake = run_agents(tmp_path, "langgraph", cities=("Paris", "Oslo", "Lima"))
    assert len(fake.requests) == 6 == sum(r["operation"] == "chat" for r in records)
    for run in runs_of(records, 3):
        (session,) = {r["session_id"] for r in run}
        city = session.removeprefix("thread-")
        assert all(city in json.dumps(r.get("input")) for r in run if r["operation"] == "chat")


def test_what_a_langgraph_node_opens_after_an_async_model_call_nests_under_the_node(tmp_path, fake_openai):
    """LangChain ends an async model call in another task than the one that started it: the context the call
    made current in the node's task must not leave the finished chat span current there."""
    pytest.importorskip("langgraph")
    result = run_python(
        f"""
        import asyncio, json
        import otel_aitracer
        from opentelemetry import trace
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        pipeline = otel_aitracer.register(store={str(tmp_path / "r.db")!r})
        spans = InMemorySpanExporter()
        pipeline.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        from typing import TypedDict
        from langchain_openai import ChatOpenAI
        from langgraph.graph import END, START, StateGraph

        class State(TypedDict):
            question: str

        model = ChatOpenAI(model="gpt-4o-mini", base_url={fake_openai.base_url!r}, api_key="k", max_retries=0)

        async def answer(state):
            await model.ainvoke(state["question"])
            with trace.get_tracer("app").start_as_current_span("after the call"):
                pass
            return state

        graph = StateGraph(State)
        graph.add_node("answer", answer)
        graph.add_edge(START, "answer")
        graph.add_edge("answer", END)
        asyncio.run(graph.compile().ainvoke({{"question": "hi"}}))
        pipeline.shutdown()
        by_id = {{s.context.span_id: s for s in spans.get_finished_spans()}}
        print(json.dumps({{s.name: by_id[s.parent.span_id].name if s.parent and s.parent.span_id in by_id else None for s in spans.get_finished_spans()}}))
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Failed to detach context" not in result.stderr
    parents = json.loads(result.stdout.strip().splitlines()[-1])
    assert parents["after the call"] == "invoke_agent answer"
    assert parents["chat gpt-4o-mini"] == "invoke_agent answer"


@pytest.mark.parametrize("framework", ["pydantic_ai", "langgraph"])
def test_the_audit_trail_records_every_frameworks_model_calls(tmp_path, framework):
    log = tmp_path / "decisions.jsonl"
    spans, records, fake = run_agents(tmp_path, framework, options=f", decision_log={str(log)!r}")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == len(fake.requests) == 2  # one decision record per model call
    chats = {r["span_id"]: r for r in records if r["operation"] == "chat"}
    assert {line["span_id"] for line in lines} == set(chats)
    assert all(line["prompt_sha256"] and line["response_sha256"] and line["agent_name"] for line in lines)
    assert lines[1]["prev_sha256"] == lines[0]["record_sha256"]
