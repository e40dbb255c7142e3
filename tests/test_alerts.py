"""Alerts (SPEC §9): fake Slack and Sentry endpoints on loopback receive exactly what the rules say, once per
rule and window; a refused or hanging destination changes nothing for the app; ``alerts test``; bad files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from otel_aitracer._alerts import load_alerts
from otel_aitracer._alerts._config import parse_alerts
from otel_aitracer._alerts._rules import Evaluator
from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer.demo.fake_openai import FakeOpenAIServer
from otel_aitracer.exceptions import ConfigurationError

from .alert_sinks import AlertSinks
from .helpers import ROOT, clean_env, run_python
from .server_process import ServerProcess, free_port

_ALERTS = """
link = "http://ui.example/ui/traces/{{trace_id}}"

[destinations.team-slack]
type = "slack"
webhook_url = "{base}/slack/T000/B000/XXXX"

[destinations.sentry]
type = "sentry"
dsn = "{sentry}/42"

[[rules]]
name = "errors"
kind = "error_rate"
project = "shop"
threshold = 0.3
window = "1h"
min_calls = 4
destinations = ["team-slack"]

[[rules]]
name = "budget"
kind = "daily_cost"
threshold = 0.00001
destinations = ["team-slack"]

[[rules]]
name = "slow"
kind = "p95_latency"
project = "*"
threshold = 250
window = "1h"
min_calls = 3
destinations = ["team-slack"]

[[rules]]
name = "critical"
kind = "critical_anomaly"
destinations = ["sentry"]
"""

_APP = """
import openai, otel_aitracer
pipeline = otel_aitracer.register(project="shop", store={store!r}, alerts={alerts!r})
client = openai.OpenAI(base_url={base_url!r}, api_key="k", max_retries=0)
for model in ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini", "error-500", "error-500", "error-500", "stall-400"]:
    try:
        client.chat.completions.create(model=model, messages=[{{"role": "user", "content": "Hi"}}])
    except openai.APIError:
        pass
pipeline.shutdown()
print(pipeline.stats()["written"])
print(pipeline.stats()["alerts"])
"""


def _alerts_file(tmp_path, sinks_url: str) -> str:
    sentry = sinks_url.replace("http://", "http://publickey@")
    path = tmp_path / "alerts.toml"
    path.write_text(_ALERTS.format(base=sinks_url, sentry=sentry))
    return str(path)


def _run_app(tmp_path, alerts: str) -> subprocess.CompletedProcess[str]:
    with FakeOpenAIServer() as fake:
        return run_python(_APP.format(store=str(tmp_path / "r.db"), alerts=alerts, base_url=fake.base_url), timeout=120)


def test_each_rule_fires_once_to_its_destinations(tmp_path):
    with AlertSinks() as sinks:
        result = _run_app(tmp_path, _alerts_file(tmp_path, sinks.base_url))
        assert result.returncode == 0, result.stderr[-3000:]
        slack, sentry = sinks.slack(), sinks.sentry()
    assert sorted(m["otel_aitracer"]["Rule"] for m in slack) == ["budget (daily_cost)", "errors (error_rate)", "slow (p95_latency)"]
    by_rule = {m["otel_aitracer"]["Rule"].split()[0]: m["otel_aitracer"] for m in slack}
    assert by_rule["errors"]["Project"] == "shop" and by_rule["errors"]["Threshold"] == "30%" and by_rule["errors"]["Value"] == "40%"  # 2 of 5
    assert by_rule["slow"]["Value"].endswith(" ms") and int(by_rule["slow"]["Value"].split()[0]) >= 400
    assert by_rule["slow"]["run"].startswith("http://ui.example/ui/traces/")
    assert all(m["text"].startswith("otel-aitracer alert: shop / ") for m in slack)
    errors = [r for r in SQLiteStore(tmp_path / "r.db").query() if r["status"] == "error"]
    assert len(sentry) == len(errors) == 3  # one event per critical record
    for envelope in sentry:
        assert "sentry_key=publickey" in envelope["headers"]["X-Sentry-Auth"]
        event = envelope["event"]
        assert event["level"] == "error" and event["tags"]["gen_ai.request.model"] == "error-500" and event["tags"]["gen_ai.system"] == "openai"
        assert event["tags"]["aitracer.anomaly_codes"] == "1001,1008" and envelope["item"]["type"] == "event"
    assert {e["event"]["contexts"]["trace"]["span_id"] for e in sentry} == {r["span_id"] for r in errors}


def test_a_refused_destination_changes_nothing_for_the_app(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = _run_app(tmp_path, _alerts_file(tmp_path, dead))
    assert result.returncode == 0, result.stderr[-3000:]
    written, alerts = result.stdout.strip().splitlines()[-2:]
    assert written == "7" and len(SQLiteStore(tmp_path / "r.db").query()) == 7  # every call recorded
    assert json.loads(alerts.replace("'", '"'))["sent"] == 0


def test_a_destination_that_fails_for_a_while_gets_the_alert_once(tmp_path):
    config = parse_alerts({
        "destinations": {"s": {"type": "slack", "webhook_url": "http://127.0.0.1:1/slack/T000/B000/XXXX"}},
        "rules": [{"kind": "critical_anomaly", "destinations": ["s"]}],
    })  # fmt: skip
    from otel_aitracer._alerts._delivery import Delivery

    with AlertSinks(statuses=[503, 200]) as sinks:
        destination = config.destinations["s"].__class__("s", "slack", sinks.base_url + "/slack/T000/B000/XXXX")
        (alert,) = Evaluator(config).observe([{"project": "p", "operation": "chat", "anomaly_score": 100, "anomaly_codes": [1001]}])
        with httpx.Client() as client:
            assert Delivery(config).post(destination, alert, client) is None
        assert [r["status"] for r in sinks.requests] == [503, 200]


def test_rules_fire_once_per_window_and_again_in_the_next():
    now = [1_000_000.0]
    config = parse_alerts({
        "destinations": {"s": {"type": "slack", "webhook_url": "https://hooks.slack.com/services/x"}},
        "rules": [{"kind": "error_rate", "threshold": 0.5, "window": "10m", "min_calls": 2, "destinations": ["s"]}],
    })  # fmt: skip
    evaluator = Evaluator(config, clock=lambda: now[0])
    failed = {"project": "p", "operation": "chat", "status": "error"}
    assert len(evaluator.observe([failed] * 5)) == 1
    assert evaluator.observe([failed]) == []
    now[0] += 600
    assert len(evaluator.observe([failed, failed])) == 1
    assert evaluator.observe([{**failed, "operation": "execute_tool"}] * 5) == []  # tools are not model calls


def test_alerts_test_pings_every_destination(tmp_path):
    with AlertSinks() as sinks:
        path = _alerts_file(tmp_path, sinks.base_url)
        ok = subprocess.run([sys.executable, "-m", "otel_aitracer", "alerts", "test", "--config", path], capture_output=True, text=True, env=clean_env(), cwd=ROOT)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.splitlines() == ["team-slack: delivered", "sentry: delivered"]
        assert "test ping" in sinks.slack()[0]["text"] and "test ping" in sinks.sentry()[0]["event"]["message"]["formatted"]
    dead = subprocess.run([sys.executable, "-m", "otel_aitracer", "alerts", "test", "--config", _alerts_file(tmp_path, f"http://127.0.0.1:{free_port()}")],
                          capture_output=True, text=True, env=clean_env(), cwd=ROOT)  # fmt: skip
    assert dead.returncode == 1 and "team-slack: FAILED: ConnectError" in dead.stdout


def test_serve_checks_the_rules_on_what_it_receives(tmp_path):
    with AlertSinks() as sinks:
        server = ServerProcess(tmp_path / "serve.db", extra_env={"AITRACER_ALERTS": _alerts_file(tmp_path, sinks.base_url)})
        try:
            record = {"model": "gpt-4o-mini", "provider": "openai", "project": "shop", "status": "error", "error_message": "boom", "input_tokens": 5, "output_tokens": 0}
            answer = httpx.post(f"{server.url}/api/v1/logs/batch/", json={"logs": [record]})
            assert answer.status_code == 200 and answer.json()["accepted"] == 1
            for _ in range(100):  # delivered by the worker's alert thread, while serve runs
                if sinks.sentry():
                    break
                time.sleep(0.1)
        finally:
            server.stop()
        (envelope,) = sinks.sentry()
    assert envelope["event"]["tags"]["aitracer.project"] == "shop" and envelope["event"]["tags"]["aitracer.anomaly_codes"] == "1001,1008"


@pytest.mark.parametrize(("text", "problem"), [
    ("rules = 3", "rules must be an array of tables"),
    ("[[rules]]\nkind = \"loud\"\ndestinations = [\"x\"]", "kind must be one of error_rate, daily_cost, p95_latency, critical_anomaly"),
    ("[[rules]]\nkind = \"critical_anomaly\"\ndestinations = [\"nowhere\"]", "no destination named 'nowhere'"),
    ("[destinations.s]\ntype = \"slack\"\nwebhook_url = \"https://h/x\"\n[[rules]]\nkind = \"error_rate\"\nthreshold = 2\ndestinations = [\"s\"]", "at most 1"),
    ("[destinations.s]\ntype = \"slack\"\nwebhook_url = \"https://h/x\"\n[[rules]]\nkind = \"p95_latency\"\nthreshold = 2\nwindow = \"soon\"\ndestinations = [\"s\"]", "window must be like"),
    ("[destinations.s]\ntype = \"sentry\"\ndsn = \"https://sentry.io/1\"\n[[rules]]\nkind = \"critical_anomaly\"\ndestinations = [\"s\"]", "dsn must look like"),
    ("[destinations.s]\ntype = \"slack\"\nwebhook_url = \"https://h/x\"", "no [[rules]]"),
    ("not = [toml", "not valid TOML"),
])  # fmt: skip
def test_a_bad_alerts_file_is_one_clear_error(tmp_path, text, problem):
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match="alerts.toml") as error:
        load_alerts(path)
    assert problem in str(error.value)


def test_register_and_serve_refuse_a_bad_alerts_file(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text("[[rules]]\nkind = \"loud\"\ndestinations = [\"x\"]")
    result = run_python(f"import otel_aitracer\notel_aitracer.register(store={str(tmp_path / 'r.db')!r}, alerts={str(path)!r})")
    assert result.returncode != 0 and "ConfigurationError" in result.stderr and "kind must be one of" in result.stderr
    serve = subprocess.run([sys.executable, "-m", "otel_aitracer", "serve", "--alerts", str(path), "--store", str(tmp_path / "s.db"), "--port", str(free_port())],
                           capture_output=True, text=True, env=clean_env(), cwd=ROOT, timeout=60)  # fmt: skip
    assert serve.returncode == 2 and "kind must be one of" in serve.stderr and "Traceback" not in serve.stderr


def test_the_readme_example_is_a_valid_alerts_file(tmp_path):
    readme = (ROOT / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "alerts.toml"
    path.write_text(textwrap.dedent(example))
    config = load_alerts(path)
    assert {r.kind for r in config.rules} == {"error_rate", "daily_cost", "p95_latency", "critical_anomaly"}
    assert {d.type for d in config.destinations.values()} == {"slack", "sentry"}
    assert json.dumps([r.name for r in config.rules])
