"""The audit trail of agent runs (SPEC §8): hash-chained decision records and the span mirror, with a real
Agents SDK run against the fake OpenAI endpoint, and ``otel-aitracer verify`` catching tampering."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys

import pytest

from otel_aitracer._config import resolve_settings
from otel_aitracer.demo.fake_openai import FakeOpenAIServer, _reply_to
from otel_aitracer.exceptions import ConfigurationError

from .helpers import clean_env, run_python

_AGENT_RUN = """
import asyncio, os
os.environ["OPENAI_API_KEY"] = "sk-fake"
import otel_aitracer
pipeline = otel_aitracer.register(store={store!r}, decision_log={log!r}, jsonl_mirror={mirror!r}{extra})
from agents import Agent, OpenAIChatCompletionsModel, Runner, trace
from openai import AsyncOpenAI
client = AsyncOpenAI(base_url={base_url!r}, api_key="sk-fake", max_retries=0)
model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)
async def main():
    with trace(workflow_name="support", group_id="conv-7"):
        await Runner.run(Agent(name="triage", instructions="Route the question.", model=model), {first!r})
        await Runner.run(Agent(name="answerer", instructions="Answer briefly.", model=model), "and what about tracing?")
asyncio.run(main())
pipeline.shutdown()
print(pipeline.stats()["audit"])
"""


def _canonical_sha256(data: object) -> str:
    """Written here again, not imported: the test checks our hashing against its own."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _run(tmp_path, fake, first: str = "hello", **options: object):
    log, mirror = tmp_path / "decisions.jsonl", tmp_path / "mirror.jsonl"
    extra = "".join(f", {k}={v!r}" for k, v in options.items())
    code = _AGENT_RUN.format(store=str(tmp_path / "r.db"), log=str(log), mirror=str(mirror), base_url=fake.base_url, first=first, extra=extra)
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    return log, mirror, result.stdout.strip().splitlines()[-1]


@pytest.fixture
def fake():
    with FakeOpenAIServer() as server:
        yield server


def test_one_decision_record_per_model_call_with_hashes_of_what_the_model_saw(tmp_path, fake):
    log, _, audit = _run(tmp_path, fake)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    sent = [r["body"]["messages"] for r in fake.requests]
    assert len(lines) == len(sent) == 2
    for line, messages in zip(lines, sent):
        # the conventions' form of what the fake received, and of what it answered
        prompt = [{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in messages]
        response = [{"role": "assistant", "parts": [{"type": "text", "content": _reply_to(messages)}], "finish_reason": "stop"}]
        assert line["prompt_sha256"] == _canonical_sha256(prompt)
        assert line["response_sha256"] == _canonical_sha256(response)
    assert [(r["agent_name"], r["workflow_name"], r["group_id"], r["model"]) for r in lines] == [
        ("triage", "support", "conv-7", "gpt-4o-mini-2024-07-18"),
        ("answerer", "support", "conv-7", "gpt-4o-mini-2024-07-18"),
    ]
    assert all(r["latency_ms"] >= 0 and r["started_at"] < r["ended_at"] for r in lines)
    # the chain: each line's hash covers it without that hash, and names the one before it
    previous = "0" * 64
    for line in lines:
        body = {k: v for k, v in line.items() if k != "record_sha256"}
        assert line["prev_sha256"] == previous and line["record_sha256"] == _canonical_sha256(body)
        previous = line["record_sha256"]
    assert audit.startswith("{'lines': ") and "'lost': 0" in audit


def test_the_files_are_private_and_hold_no_content_unless_asked(tmp_path, fake):
    log, mirror, _ = _run(tmp_path, fake, first="mail me at jane@example.com")
    for path in (log, mirror):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert "jane@example.com" not in path.read_text() and "Route the question" not in path.read_text()
    raw = tmp_path / "raw"
    raw.mkdir()
    log, _, _ = _run(raw, fake, first="mail me at jane@example.com", store_raw_prompt=True, store_raw_response=True)
    first = json.loads(log.read_text().splitlines()[0])
    assert first["prompt"][-1]["parts"][0]["content"] == "mail me at [EMAIL]"  # asked for, and redacted
    assert "[EMAIL]" in first["response"][0]["parts"][0]["content"] and "jane@example.com" not in log.read_text()


def test_the_mirror_has_a_start_and_an_end_line_for_every_span_of_the_run(tmp_path, fake):
    _, mirror, _ = _run(tmp_path, fake)
    lines = [json.loads(line) for line in mirror.read_text().splitlines()]
    starts = {r["span_id"]: r for r in lines if r["event"] == "span_start"}
    ends = {r["span_id"]: r for r in lines if r["event"] == "span_end"}
    assert starts.keys() == ends.keys()
    assert sorted(r["operation"] for r in starts.values()) == ["chat", "chat", "invoke_agent", "invoke_agent", "invoke_workflow"]
    assert len({r["trace_id"] for r in lines}) == 1
    order = [(r["event"], r["span_id"]) for r in lines]
    assert all(order.index(("span_start", s)) < order.index(("span_end", s)) for s in starts)


def _verify(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otel_aitracer", "verify", str(path)], capture_output=True, text=True, env=clean_env())


def test_verify_names_the_first_changed_removed_or_inserted_line(tmp_path, fake):
    log, _, _ = _run(tmp_path, fake)
    _run(tmp_path, fake)  # a second process continues the same chain
    good = log.read_text().splitlines()
    assert len(good) == 4
    ok = _verify(log)
    assert ok.returncode == 0 and "4 lines intact" in ok.stdout

    def tampered(lines: list[str]) -> subprocess.CompletedProcess[str]:
        log.write_text("\n".join(lines) + "\n")
        return _verify(log)

    changed = json.loads(good[1])
    changed["model"] = "gpt-4o"
    result = tampered([good[0], json.dumps(changed), *good[2:]])
    assert result.returncode == 1 and "line 2 was changed" in result.stdout
    result = tampered([good[0], good[2], good[3]])
    assert result.returncode == 1 and "line 2 does not follow line 1" in result.stdout
    forged = {k: v for k, v in json.loads(good[1]).items() if k != "record_sha256"} | {"model": "forged"}
    forged["record_sha256"] = _canonical_sha256(forged)  # a well-formed line slipped in after line 2
    result = tampered([good[0], good[1], json.dumps(forged), good[2], good[3]])
    assert result.returncode == 1 and "line 3 was inserted" in result.stdout
    result = tampered(good[1:])
    assert result.returncode == 1 and "removed before line 1" in result.stdout
    assert _verify(tmp_path / "missing.jsonl").returncode == 2


def test_an_unwritable_decision_log_costs_its_lines_and_nothing_else(tmp_path, fake):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")  # no one, root included, can create a file under it
    code = _AGENT_RUN.format(
        store=str(tmp_path / "r.db"), log=str(blocked / "d.jsonl"), mirror=str(blocked / "m.jsonl"), base_url=fake.base_url, first="hi", extra=""
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr  # the app ran to the end
    assert result.stdout.strip().splitlines()[-1] == "{'lines': 0, 'lost': 12}"  # 5 spans x (start, end) mirrored + 2 decisions
    from otel_aitracer._destinations._store import SQLiteStore

    assert sorted(r["operation"] for r in SQLiteStore(tmp_path / "r.db").query()) == ["chat", "chat", "invoke_agent", "invoke_agent", "invoke_workflow"]


def test_a_decision_log_that_is_no_path_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="decision_log must be a path"):
        resolve_settings(decision_log=42)  # type: ignore[arg-type]


def test_any_producer_of_agent_spans_gets_decision_records(tmp_path, fake):
    """Not only the Agents SDK bridge: an ``invoke_agent`` span from any instrumentation (here made with the
    OTel API as a framework's own tracing would) around a model call is a run."""
    log = tmp_path / "d.jsonl"
    result = run_python(
        f"""
        import openai, otel_aitracer
        from opentelemetry import trace
        pipeline = otel_aitracer.register(store={str(tmp_path / "r.db")!r}, decision_log={str(log)!r})
        tracer = trace.get_tracer("some.framework")
        client = openai.OpenAI(api_key="k", base_url={fake.base_url!r}, max_retries=0)
        attributes = {{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "gen_ai.conversation.id": "c-1"}}
        with tracer.start_as_current_span("invoke_agent planner", attributes=attributes):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "plan it"}}])
        client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "outside any run"}}])
        pipeline.shutdown()
        """
    )
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(text) for text in log.read_text().splitlines()]
    assert (line["agent_name"], line["group_id"], line["workflow_name"]) == ("planner", "c-1", None)
    assert line["prompt_sha256"] == _canonical_sha256([{"role": "user", "parts": [{"type": "text", "content": "plan it"}]}])
