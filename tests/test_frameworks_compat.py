"""Google ADK and Strands Agents, in the second test environment (``tests/compat_env.py``: they need
google-genai 2.x and openai 2.x, which cannot install beside the dev extras). Both trace themselves with
OpenTelemetry into the pipeline's provider; the records must be the same tree as every other framework's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .compat_env import compat_python
from .framework_agents import run_agents, runs_of
from .helpers import clean_env, run_python


@pytest.fixture(scope="module")
def python() -> str:
    return compat_python()


def _steps(run: list[dict]) -> list[tuple]:
    return sorted((r["step_index"], r["operation"], r.get("tool_name")) for r in run if r.get("step_index") is not None)


@pytest.mark.parametrize("ours", [True, False], ids=["with our Gemini instrumentor", "without it"])
def test_google_adk_runs_become_the_same_tree_and_records(tmp_path, python, ours):
    spans, records, fake = run_agents(tmp_path, "google_adk", options="" if ours else ", instrument=False", python=python)
    assert {s["scope"] for s in spans} == {"gcp.vertex.agent"}  # ADK owns its model calls; ours only added to them
    assert sorted((s["name"], s["parent"]) for s in spans) == [
        ("execute_tool get_weather", "invoke_agent weather_agent"),
        ("generate_content gemini-2.0-flash", "invoke_agent weather_agent"),
        ("generate_content gemini-2.0-flash", "invoke_agent weather_agent"),
        ("invoke_agent weather_agent", "invoke_workflow weather_agent"),
        ("invoke_workflow weather_agent", None),
    ]
    calls = [r for r in records if r["operation"] == "generate_content"]
    assert len(fake.requests) == 2 == len(calls)  # one LLM record per request the provider received
    assert all(r["input_tokens"] > 0 and r["cost"] > 0 and r["provider"] == "gemini" for r in calls)
    assert _steps(records) == [(0, "generate_content", None), (1, "execute_tool", "get_weather"), (2, "generate_content", None)]
    assert {r["session_id"] for r in records} == {"session-Paris"}  # ADK's session id
    assert {r.get("agent_name") for r in records if r["operation"] != "invoke_workflow"} == {"weather_agent"}
    (tool,) = [r for r in records if r["operation"] == "execute_tool"]
    assert tool["status"] == "success" and tool["input"] == {"arguments": {"city": "What is the weather in Paris?"}}  # ADK's content, turned on
    assert tool["output"] == {"result": {"result": "sunny in What is the weather in Paris?"}}
    assert calls[0]["input"]["messages"][-1]["role"] in ("user", "tool")


def test_concurrent_google_adk_runs_never_mix(tmp_path, python):
    spans, records, fake = run_agents(tmp_path, "google_adk", cities=("Paris", "Oslo", "Lima"), python=python)
    assert len(fake.requests) == 6 == sum(r["operation"] == "generate_content" for r in records)
    for run in runs_of(records, 3):
        (session,) = {r["session_id"] for r in run}
        assert _steps(run) == [(0, "generate_content", None), (1, "execute_tool", "get_weather"), (2, "generate_content", None)]
        (tool,) = [r for r in run if r["operation"] == "execute_tool"]
        assert session.removeprefix("session-") in tool["input"]["arguments"]["city"]


@pytest.mark.parametrize("ours", [True, False], ids=["with our OpenAI instrumentor", "without it"])
def test_strands_runs_become_the_same_tree_and_records(tmp_path, python, ours):
    spans, records, fake = run_agents(tmp_path, "strands", options="" if ours else ", instrument=False", python=python)
    assert {s["scope"] for s in spans} == {"strands.telemetry.tracer"}
    assert sorted((s["name"], s["parent"]) for s in spans) == [
        ("chat", "execute_event_loop_cycle"),
        ("chat", "execute_event_loop_cycle"),
        ("execute_event_loop_cycle", "invoke_agent weather_agent"),
        ("execute_event_loop_cycle", "invoke_agent weather_agent"),
        ("execute_tool get_weather", "execute_event_loop_cycle"),
        ("invoke_agent weather_agent", None),
    ]
    chats = [r for r in records if r["operation"] == "chat"]
    assert len(fake.requests) == 2 == len(chats)
    assert all(r["input_tokens"] > 0 and r["cost"] > 0 for r in chats)
    (agent,) = [r for r in records if r["operation"] == "invoke_agent"]
    assert agent["input_tokens"] == sum(r["input_tokens"] for r in chats) and "cost" not in agent  # a total, not priced twice
    assert _steps(records) == [(0, "chat", None), (1, "execute_tool", "get_weather"), (2, "chat", None)]
    assert {r["session_id"] for r in records} == {"session-Paris"}  # Strands' session.id trace attribute
    assert {r["agent_name"] for r in records} == {"weather_agent"}
    (tool,) = [r for r in records if r["operation"] == "execute_tool"]
    assert tool["input"] == {"arguments": {"city": "What is the weather in Paris?"}}  # from Strands' span events
    assert tool["output"] == {"result": [{"text": "sunny in What is the weather in Paris?"}]}
    assert chats[0]["output"] is not None and chats[1]["output"] is not None


def test_concurrent_strands_runs_never_mix(tmp_path, python):
    spans, records, fake = run_agents(tmp_path, "strands", cities=("Paris", "Oslo", "Lima"), python=python)
    assert len(fake.requests) == 6 == sum(r["operation"] == "chat" for r in records)
    for run in runs_of(records, 3):
        (session,) = {r["session_id"] for r in run}
        assert _steps(run) == [(0, "chat", None), (1, "execute_tool", "get_weather"), (2, "chat", None)]
        (tool,) = [r for r in run if r["operation"] == "execute_tool"]
        assert session.removeprefix("session-") in tool["input"]["arguments"]["city"]


@pytest.mark.parametrize("framework", ["google_adk", "strands"])
def test_the_audit_trail_records_their_model_calls(tmp_path, python, framework):
    log = tmp_path / "decisions.jsonl"
    spans, records, fake = run_agents(tmp_path, framework, options=f", decision_log={str(log)!r}", python=python)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    calls = {r["span_id"]: r for r in records if r["operation"] in ("chat", "generate_content")}
    assert len(lines) == len(fake.requests) == 2 and {line["span_id"] for line in lines} == set(calls)  # one per model call
    assert all(line["prompt_sha256"] and line["response_sha256"] and line["agent_name"] == "weather_agent" for line in lines)
    assert lines[1]["prev_sha256"] == lines[0]["record_sha256"]
    verify = subprocess.run([str(Path(python).parent / "otel-aitracer"), "verify", str(log)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_doctor_lists_them_installed(python):
    doctor = subprocess.run([str(Path(python).parent / "otel-aitracer"), "doctor"], capture_output=True, text=True, env=clean_env())
    assert doctor.returncode == 0, doctor.stderr
    lines = {line.split(":")[0].strip(): line for line in doctor.stdout.splitlines()}
    assert "1.62.0" in lines["strands"] and "2.13.0" in lines["google_adk"] and "traced" in lines["google_adk"]


_BESIDE_OFFICIAL = """
import json, sys
import otel_aitracer
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor as Official
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
if {ours_outside!r}:
    Official().instrument()  # wraps openai first: ours, wrapped on top, starts first
    pipeline = otel_aitracer.register(store={store!r})
else:
    pipeline = otel_aitracer.register(store={store!r})
    import openai  # ours wraps it now: the official one, wrapped on top, starts first
    Official().instrument()
spans = InMemorySpanExporter()
pipeline.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
import openai
client = openai.OpenAI(base_url={base_url!r}, api_key="k", max_retries=0)
client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "Hi"}}])
pipeline.shutdown()
print(json.dumps([{{"name": s.name, "scope": s.instrumentation_scope.name, "attributes": dict(s.attributes)}} for s in spans.get_finished_spans()]))
"""


@pytest.mark.parametrize("ours_outside", [True, False], ids=["ours starts first", "the official one starts first"])
def test_beside_the_official_openai_instrumentation_one_call_is_one_span_and_one_record(tmp_path, python, ours_outside):
    """The conventions' ownership rule both ways: whichever starts first owns the call, the other adds to it or stays silent."""
    from otel_aitracer._destinations._store import SQLiteStore
    from otel_aitracer.demo.fake_openai import FakeOpenAIServer

    store = str(tmp_path / "r.db")
    with FakeOpenAIServer() as fake:
        result = run_python(_BESIDE_OFFICIAL.format(ours_outside=ours_outside, store=store, base_url=fake.base_url), python=python, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    spans = json.loads(result.stdout.strip().splitlines()[-1])
    (span,) = [s for s in spans if s["attributes"].get("gen_ai.operation.name") == "chat"]
    assert span["scope"] == ("instrumentors.openai" if ours_outside else "opentelemetry.instrumentation.genai.openai")
    assert span["attributes"]["gen_ai.usage.input_tokens"] > 0
    (record,) = SQLiteStore(store).query()
    assert len(fake.requests) == 1 and record["operation"] == "chat" and record["input_tokens"] > 0
