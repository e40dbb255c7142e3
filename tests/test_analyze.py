"""``otel-aitracer analyze``: a fake provider returns a canned report; what it received (the steps in order,
their codes, no raw PII), what was printed, what was kept, and the analysis call recorded and priced."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer.cli._analyze import INSTRUCTIONS
from otel_aitracer.demo._fake_http import FakeHandler, FakeServer
from otel_aitracer.demo.fake_anthropic import FakeAnthropicServer
from otel_aitracer.demo.fake_gemini import FakeGeminiServer
from otel_aitracer.demo.fake_openai import FakeOpenAIServer

from .helpers import ROOT, clean_env, run_python

REPORT = {
    "summary": "The run failed at confirm after extract returned prose instead of JSON.",
    "failing_step": "extract (1)",
    "root_cause": "extract ignored the JSON instruction (2001), so confirm was called with nothing to confirm and failed (1001).",
    "fixes": ["Set response_format to json_object on extract", "Validate extract's output before confirm"],
}


class CannedReport(FakeServer):
    """An OpenAI chat completions endpoint that always answers with :data:`REPORT`."""

    path_prefix = "/v1"

    def __init__(self) -> None:
        super().__init__(_Canned)


class _Canned(FakeHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.read_json()
        content = json.dumps(REPORT)
        self.send_json(200, {
            "id": "chatcmpl-canned", "object": "chat.completion", "created": int(time.time()), "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}, "model_echo": body.get("model"),
        })  # fmt: skip


_RUN = """
import openai, otel_aitracer
pipeline = otel_aitracer.register(store={store!r}, pii_detection=False)  # the store keeps the raw e-mail
client = openai.OpenAI(base_url={base_url!r}, api_key="k", max_retries=0)
with otel_aitracer.run("checkout"):
    otel_aitracer.step("parse-request")
    client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "Order for jane.doe@example.com: 2 apples"}}])
    otel_aitracer.step("extract")
    client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "system", "content": "Respond in JSON."}}, {{"role": "user", "content": "Extract the items."}}])
    otel_aitracer.step("confirm")
    try:
        client.chat.completions.create(model="error-500", messages=[{{"role": "user", "content": "Confirm."}}])
    except openai.APIError:
        pass
pipeline.shutdown()
"""


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otel_aitracer", *args], capture_output=True, text=True, env=clean_env(**env), cwd=ROOT, timeout=120)


def _a_failed_run(tmp_path) -> tuple[str, str]:
    store = str(tmp_path / "r.db")
    with FakeOpenAIServer() as fake:
        result = run_python(_RUN.format(store=store, base_url=fake.base_url), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    (trace_id,) = {r["trace_id"] for r in SQLiteStore(store).query()}
    return store, trace_id


def test_analyze_sends_the_steps_in_order_prints_and_keeps_the_report(tmp_path):
    store, trace_id = _a_failed_run(tmp_path)
    with CannedReport() as model:
        result = _cli("analyze", trace_id, "--store", store, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=model.base_url)
        assert result.returncode == 0, result.stderr[-3000:]
        (request,) = model.requests
    system, user = request["body"]["messages"]
    assert system == {"role": "system", "content": INSTRUCTIONS}
    context = json.loads(user["content"])
    steps = [(s["name"], s["status"], [c["code"] for c in s["anomaly_codes"]]) for s in context["steps"] if s["operation"] == "chat"]
    assert steps == [("parse-request", "success", []), ("extract", "success", [2001]), ("confirm", "error", [1001, 1008])]
    assert "jane.doe@example.com" not in user["content"] and "jane.doe" not in user["content"]  # redacted before it left
    assert context["run"]["status"] == "error" and context["run"]["anomaly_score"] == 250
    assert f"Run {trace_id}" in result.stdout and "Summary: The run failed at confirm" in result.stdout
    assert "Failing step: extract (1)" in result.stdout and "  - Set response_format to json_object on extract" in result.stdout
    kept = _cli("analyze", trace_id, "--store", store, "--stored", "--json")  # no model asked
    assert kept.returncode == 0 and {k: json.loads(kept.stdout)[k] for k in REPORT} == REPORT
    (analysis,) = [r for r in SQLiteStore(store).query() if r["project"] == "aitracer-analysis"]
    assert analysis["input_tokens"] == 900 and analysis["cost"] > 0 and analysis["trace_id"] != trace_id


def test_analyze_says_what_is_missing(tmp_path):
    store, trace_id = _a_failed_run(tmp_path)
    no_key = _cli("analyze", trace_id, "--store", store)
    assert no_key.returncode == 2 and "set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY" in no_key.stderr
    unknown = _cli("analyze", "f" * 32, "--store", store, OPENAI_API_KEY="sk-test")
    assert unknown.returncode == 2 and f"no records for run {'f' * 32}" in unknown.stderr
    nothing_kept = _cli("analyze", trace_id, "--store", store, "--stored")
    assert nothing_kept.returncode == 2 and "no analysis kept" in nothing_kept.stderr


@pytest.mark.parametrize(("provider", "fake", "env"), [
    ("anthropic", FakeAnthropicServer, lambda url: {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": url}),
    ("gemini", FakeGeminiServer, lambda url: {"GEMINI_API_KEY": "g-test", "GOOGLE_GEMINI_BASE_URL": url}),
])  # fmt: skip
def test_analyze_asks_through_anthropic_or_gemini_too(tmp_path, provider, fake, env):
    """Their fakes answer prose, not the JSON asked for: the answer becomes the report's summary, as it is."""
    store, trace_id = _a_failed_run(tmp_path)
    with fake() as model:
        result = _cli("analyze", trace_id, "--store", store, "--json", **env(model.base_url))
        assert result.returncode == 0, result.stderr[-3000:]
        (request,) = model.requests
    report = json.loads(result.stdout)
    assert report["provider"] == provider and report["summary"].startswith("Here is a short answer") and report["fixes"] == []
    assert "extract" in json.dumps(request["body"]) and "jane.doe@example.com" not in json.dumps(request["body"])
    (analysis,) = [r for r in SQLiteStore(store).query() if r["project"] == "aitracer-analysis"]
    assert analysis["provider"] == provider and analysis["input_tokens"] > 0
