"""Anomaly scores (SPEC §9): each code from real calls where a call can produce it (the fake provider answering
prose when JSON was asked, a stall, an error), from ``log()`` otherwise; clean calls get none; the same codes
in serve; the score as a ``gen_ai.evaluation.result`` event; filters and sorting in ``logs``."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys

import httpx
import pytest

from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer._scoring import Scorer
from otel_aitracer._scoring._baselines import MIN_CALLS, STATIC
from otel_aitracer.demo.fake_openai import FakeOpenAIServer

from .anomaly_corpus import BROKEN, CLEAN, record
from .helpers import ROOT, clean_env, run_python
from .server_process import ServerProcess

_CALLS = """
import json, os, sys
import openai
import otel_aitracer
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
logs = InMemoryLogRecordExporter()
provider = LoggerProvider()
provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
set_logger_provider(provider)
pipeline = otel_aitracer.register(store={store!r})
{also}
client = openai.OpenAI(base_url={base_url!r}, api_key="k", max_retries=0)

def ask(name, system, user, model="gpt-4o-mini", **kwargs):
    with otel_aitracer.project("anomaly"):
        otel_aitracer.set_metadata({{"case": name}})
        try:
            client.chat.completions.create(model=model, messages=[{{"role": "system", "content": system}}, {{"role": "user", "content": user}}], **kwargs)
        except openai.APIError:
            pass

ask("json asked, prose given", "Respond in JSON.", "Where is Oslo?")
ask("json format", "Respond in JSON.", "Where is Oslo?", response_format={{"type": "json_object"}})
ask("yes/no asked, prose given", "Answer yes or no.", "Is Oslo in Norway?")
ask("enum asked, other given", "Reply with one of: positive, negative, neutral.", "I had a day.")
ask("word limit broken", "Answer in 5 words or fewer.", "What is a fjord?")
ask("error", "You are helpful.", "Hi", model="error-500")
ask("stall", "You are helpful.", "Hi", model="stall-400")
ask("plain", "You are helpful.", "What is a fjord?")
ai = otel_aitracer.AITracer(project="anomaly", store={store!r})
ai.log(model="gpt-4o-mini", provider="openai", input_tokens=10, output_tokens=5, total_tokens=20, metadata={{"case": "total off"}})
ai.log(model="gpt-4o-mini", provider="openai", input_tokens=10, output_tokens=5, total_tokens=15, metadata={{"case": "total right"}})
ai.log(model="gpt-4o-mini", provider="openai", input_data=[{{"role": "system", "content": "Return JSON with keys \\"name\\" and \\"age\\"."}}],
                  output_data={{"role": "assistant", "content": "{{\\"name\\": \\"Ada\\"}}"}}, metadata={{"case": "keys missing"}})
ai.log(model="gpt-4o-mini", provider="openai", input_data=[{{"role": "user", "content": "Give the list."}}],
                  output_data={{"role": "assistant", "content": "[1, 2, [3"}}, metadata={{"case": "unbalanced"}})
ai.shutdown()
pipeline.shutdown()
provider.force_flush()
print(json.dumps([{{"span_id": format(r.log_record.span_id, "016x"), "name": r.log_record.event_name, "attributes": dict(r.log_record.attributes)}}
                  for r in logs.get_finished_logs() if r.log_record.event_name == "gen_ai.evaluation.result"]))
"""

_EXPECTED = {
    "json asked, prose given": [2001],
    "json format": [],
    "yes/no asked, prose given": [2002],
    "enum asked, other given": [2003],
    "word limit broken": [3003],
    "error": [1001, 1008],
    "stall": [4001, 4004],
    "plain": [],
    "total off": [1007],
    "total right": [],
    "keys missing": [3002],
    "unbalanced": [3001],
}
_THRESHOLDS = json.dumps({"*": {"latency_ms": 250}})  # the stall's 400 ms is over it; every other call far under


def _scored_calls(tmp_path, also: str = "") -> tuple[dict[str, dict], list[dict]]:
    store = tmp_path / "r.db"
    with FakeOpenAIServer() as fake:
        code = _CALLS.format(store=str(store), base_url=fake.base_url, also=also)
        result = run_python(code, env={"AITRACER_ANOMALY_THRESHOLDS": _THRESHOLDS}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    records = {r["metadata"]["case"]: r for r in SQLiteStore(store).query()}
    return records, json.loads(result.stdout.strip().splitlines()[-1])


def test_each_code_comes_from_the_call_that_earns_it(tmp_path):
    records, _ = _scored_calls(tmp_path)
    assert {case: r["anomaly_codes"] for case, r in records.items()} == _EXPECTED
    assert records["error"]["anomaly_score"] == 200 and records["json asked, prose given"]["anomaly_score"] == 50
    assert 20 <= records["stall"]["anomaly_score"] <= 50  # two L4 codes, 10-25 points each
    assert records["plain"]["anomaly_score"] == 0


def test_each_score_is_an_evaluation_event_on_its_span(tmp_path):
    records, events = _scored_calls(tmp_path)
    by_span = {e["span_id"]: e for e in events}
    assert len(events) == len(records)
    for r in records.values():
        event = by_span[r["span_id"]]["attributes"]
        assert event["gen_ai.evaluation.name"] == "aitracer.anomaly"
        assert event["gen_ai.evaluation.score.value"] == r["anomaly_score"]
        assert event["gen_ai.evaluation.score.label"] == ("critical" if r["anomaly_score"] >= 100 else "warning" if r["anomaly_score"] else "ok")
        assert all(str(code) in event["gen_ai.evaluation.explanation"] for code in r["anomaly_codes"])


def test_serve_gives_the_same_codes(tmp_path):
    server = ServerProcess(tmp_path / "serve.db", extra_env={"AITRACER_ANOMALY_THRESHOLDS": _THRESHOLDS})
    try:
        also = (
            "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
            "from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter\n"
            f"pipeline.tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint={server.url + '/v1/traces'!r})))"
        )
        local, _ = _scored_calls(tmp_path, also)
        served = {r["span_id"]: r for r in httpx.get(f"{server.url}/api/v1/logs", params={"limit": 100}).json()["logs"]}
    finally:
        server.stop()
    asked = {case: r for case, r in local.items() if r["span_id"] in served}  # the app's calls (log() has a provider of its own)
    assert set(asked) == {"json asked, prose given", "json format", "yes/no asked, prose given", "enum asked, other given", "word limit broken", "error", "stall", "plain"}
    for case, r in asked.items():
        assert served[r["span_id"]]["anomaly_codes"] == r["anomaly_codes"], case


def test_the_labelled_set_gets_exactly_its_codes():
    """Precision matters more than recall: 50 varied clean calls get no code, each broken one only its own."""
    scorer = Scorer()
    assert len(CLEAN) == 50
    for case in CLEAN + BROKEN:
        scored = record(case)
        scorer.score(scored)
        assert tuple(scored["anomaly_codes"]) == case[3], case[:3]


def test_without_content_only_integrity_and_behaviour_apply():
    scorer = Scorer()
    for case in BROKEN:
        scored = record(case, input={"redacted": True}, output={"redacted": True})
        scorer.score(scored)
        assert scored["anomaly_codes"] == []
    failed = record(BROKEN[0], input={"redacted": True}, output={"redacted": True}, status="error", error_message="boom")
    scorer.score(failed)
    assert failed["anomaly_codes"] == [1001]  # the output was withheld, not missing: no 1008


def test_behaviour_uses_static_thresholds_then_the_projects_own_p95():
    scorer = Scorer()
    normal = [record(CLEAN[i % 50], latency_ms=400 + (i * 37) % 300, cost=0.0001 + (i % 7) * 0.00001) for i in range(40)]
    for call in normal:
        scorer.score(call)
    assert all(call["anomaly_codes"] == [] for call in normal)  # 40 normal calls: nothing
    assert scorer.baselines.thresholds("corpus")["latency_ms"] < STATIC["latency_ms"] / 10  # past 30 calls: its own p95
    outlier = record(CLEAN[0], latency_ms=9_000, cost=0.0001)  # under the static 20 s, far over this project's usual
    scorer.score(outlier)
    assert outlier["anomaly_codes"] == [4001] and outlier["anomaly_score"] == 25
    costly = record(CLEAN[0], cost=0.01)
    scorer.score(costly)
    assert costly["anomaly_codes"] == [4002]
    other = record(CLEAN[0], project="fresh", latency_ms=9_000)  # another project: still the static threshold
    scorer.score(other)
    assert other["anomaly_codes"] == []
    assert MIN_CALLS == 30


def test_a_stall_and_a_ratio_far_from_usual():
    scorer = Scorer()
    for i in range(35):
        scorer.score(record(CLEAN[i], latency_ms=500 + i, input_tokens=200, output_tokens=100 + i))
    stall = record(CLEAN[0], latency_ms=4_000, input_tokens=200, output_tokens=3)
    scorer.score(stall)
    assert stall["anomaly_codes"] == [4001, 4004]
    verbose = record(CLEAN[0], latency_ms=510, input_tokens=200, output_tokens=2_000)
    scorer.score(verbose)
    assert verbose["anomaly_codes"] == [4003]


def test_threshold_overrides_and_a_bad_value(caplog):
    from otel_aitracer._config import resolve_settings

    with pytest.MonkeyPatch.context() as env:
        env.setenv("AITRACER_ANOMALY_THRESHOLDS", json.dumps({"checkout": {"latency_ms": 100, "cost": "high"}, "*": {"token_ratio": 3}}))
        with caplog.at_level(logging.WARNING):
            settings = resolve_settings()
        assert settings.anomaly_thresholds == {"checkout": {"latency_ms": 100.0}, "*": {"token_ratio": 3.0}}
        assert "AITRACER_ANOMALY_THRESHOLDS" in caplog.text and "cost" in caplog.text
        env.setenv("AITRACER_ANOMALY_THRESHOLDS", "not json")
        assert resolve_settings().anomaly_thresholds == {}
    scorer = Scorer(settings.anomaly_thresholds)
    slow = record(CLEAN[0], project="checkout", latency_ms=150)
    scorer.score(slow)
    assert slow["anomaly_codes"] == [4001]


def test_logs_filters_and_sorts_by_anomaly(tmp_path):
    records, _ = _scored_calls(tmp_path)
    store = str(tmp_path / "r.db")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "otel_aitracer", "logs", "--store", store, "--json", *args], capture_output=True, text=True, env=clean_env(), cwd=ROOT)

    critical = json.loads(cli("--min-score", "100").stdout)
    assert {r["metadata"]["case"] for r in critical} == {c for c, r in records.items() if r["anomaly_score"] >= 100}
    assert [r["metadata"]["case"] for r in json.loads(cli("--code", "2001").stdout)] == ["json asked, prose given"]
    ranked = [r["anomaly_score"] for r in json.loads(cli("--sort", "anomaly").stdout)]
    assert ranked == sorted(ranked, reverse=True) and ranked[0] == 200
    bad = cli("--min-score", "lots")
    assert bad.returncode == 2 and "--min-score" in bad.stderr
    stats = subprocess.run([sys.executable, "-m", "otel_aitracer", "stats", "--store", store, "--by", "model", "--sort", "critical", "--json"],
                           capture_output=True, text=True, env=clean_env(), cwd=ROOT)  # fmt: skip
    groups = json.loads(stats.stdout)
    assert [g["critical"] for g in groups] == sorted((g["critical"] for g in groups), reverse=True)
    critical = {}
    for r in records.values():
        critical[r["model"]] = critical.get(r["model"], 0) + (r["anomaly_score"] >= 100)
    assert {g["model"]: g["critical"] for g in groups} == critical and critical["error-500"] == 1


def test_serve_refuses_a_bad_anomaly_filter_with_400(tmp_path):
    server = ServerProcess(tmp_path / "serve.db")
    try:
        answer = httpx.get(f"{server.url}/api/v1/logs", params={"code": "abc"})
        assert answer.status_code == 400 and "code" in answer.json()["error"]
        assert httpx.get(f"{server.url}/api/v1/logs", params={"sort": "loudest"}).status_code == 400
        assert httpx.get(f"{server.url}/api/v1/logs", params={"min_score": "100", "sort": "anomaly"}).json()["logs"] == []
    finally:
        server.stop()


def test_a_store_from_before_scores_gets_the_columns(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE records (span_id TEXT NOT NULL, trace_id TEXT NOT NULL, parent_span_id TEXT, project TEXT NOT NULL,"
        " session_id TEXT, app_user_id TEXT, model TEXT, provider TEXT, operation TEXT, status TEXT, started_at TEXT NOT NULL,"
        " latency_ms INTEGER, input_tokens INTEGER, output_tokens INTEGER, cost REAL, record BLOB NOT NULL, UNIQUE (trace_id, span_id, project));"
        "CREATE TABLE rollup_totals (dimension TEXT NOT NULL, project TEXT NOT NULL, value TEXT NOT NULL, missing SMALLINT NOT NULL,"
        " requests NUMERIC NOT NULL, errors NUMERIC NOT NULL, input_tokens NUMERIC NOT NULL, output_tokens NUMERIC NOT NULL,"
        " cost NUMERIC NOT NULL, priced NUMERIC NOT NULL, PRIMARY KEY (dimension, project, value, missing)) WITHOUT ROWID;"
        "PRAGMA user_version = 5;"
    )
    old.close()
    store = SQLiteStore(path)
    scored = record(BROKEN[0], trace_id="a" * 32, span_id="b" * 16, started_at="2026-11-27T10:00:00Z")
    Scorer().score(scored)
    store.write([scored])
    assert [r["anomaly_codes"] for r in store.query(code="2001")] == [[2001]]
    assert [(r["group"], r["critical"]) for r in store.stats("model")] == [("gpt-4o-mini", 0)]


def test_baselines_survive_a_restart_where_a_store_exists(tmp_path):
    """A project's L4 baseline is kept in the store: after a restart, its 31st call is judged by its own p95."""
    from otel_aitracer._config import resolve_settings
    from otel_aitracer._recording._pipeline import RecordPipeline

    store = SQLiteStore(tmp_path / "r.db")
    first = RecordPipeline(resolve_settings(store=str(tmp_path / "r.db")), sink=store)
    first.score([record(CLEAN[i % 50], latency_ms=300 + i % 40) for i in range(300)])  # kept every 256 records
    first.close(0)
    again = RecordPipeline(resolve_settings(store=str(tmp_path / "r.db")), sink=SQLiteStore(tmp_path / "r.db"))
    assert again.scorer.baselines.thresholds("corpus")["latency_ms"] < 1_000  # not the static 20 s
    slow = record(CLEAN[0], latency_ms=5_000)
    again.score([slow])
    assert slow["anomaly_codes"] == [4001]


def test_baselines_are_kept_at_most_once_in_a_few_seconds(tmp_path):
    """Serve scores 256 records in milliseconds: the baselines are kept every 256 records, but not more often than
    KEEP_BASELINES_SECONDS, so a busy server does not write them sixty times a second."""
    import orjson

    from otel_aitracer._config import resolve_settings
    from otel_aitracer._recording._pipeline import KEEP_BASELINES_EVERY, RecordPipeline

    store = SQLiteStore(tmp_path / "k.db")
    pipeline = RecordPipeline(resolve_settings(store=str(tmp_path / "k.db")), sink=store)

    def kept_calls() -> int:
        return int(orjson.loads(store.load_state("anomaly-baseline:")["anomaly-baseline:corpus"])["latency_ms"]["seen"])

    pipeline.score([record(CLEAN[i % 50], latency_ms=300) for i in range(KEEP_BASELINES_EVERY)])
    assert kept_calls() == KEEP_BASELINES_EVERY
    pipeline.score([record(CLEAN[i % 50], latency_ms=300) for i in range(KEEP_BASELINES_EVERY)])
    assert kept_calls() == KEEP_BASELINES_EVERY  # the second 256 came within seconds: not kept yet
    pipeline.keep_baselines()
    assert kept_calls() == 2 * KEEP_BASELINES_EVERY
    pipeline.close(0)


def test_a_record_scoring_cannot_read_costs_only_its_own_score(tmp_path):
    """Scoring is guarded record by record (``each_guarded``): a record it fails on keeps no score, is counted as an
    internal error, and the records after it are judged and counted as usual."""
    from otel_aitracer._config import resolve_settings
    from otel_aitracer._guard import internal_errors
    from otel_aitracer._recording._pipeline import RecordPipeline

    pipeline = RecordPipeline(resolve_settings(store=str(tmp_path / "g.db")), sink=None)
    unreadable = record(CLEAN[0], latency_ms="slow")  # the baselines cannot make a float of it
    fine = record(CLEAN[0])
    before = internal_errors().get("anomaly scoring", 0)
    pipeline.judge([unreadable, fine])
    pipeline.count([unreadable, fine])
    assert "anomaly_score" not in unreadable
    assert fine["anomaly_score"] == 0 and fine["anomaly_codes"] == []
    assert internal_errors()["anomaly scoring"] == before + 2  # judged once, counted once
    assert pipeline.scorer.baselines._projects[fine["project"]]["latency_ms"].seen == 1  # the good one joined the baseline


def test_a_projects_thresholds_follow_what_it_learned_since_they_were_last_read():
    """Thresholds are kept per project while a batch is judged (they cannot change until a call is learned); a learned
    call makes them be read again, so the baseline a project has learned is the one the next call is judged by."""
    scorer = Scorer()
    slow = record(CLEAN[0], latency_ms=5_000)
    scorer.judge(slow)
    assert 4001 not in slow["anomaly_codes"]  # 5 s is under the static 20 s
    for _ in range(MIN_CALLS):
        scorer.learn(record(CLEAN[0], latency_ms=100))
    scorer.judge(slow)
    assert 4001 in slow["anomaly_codes"]  # now over 1.5 x the p95 of the project's 100 ms calls
    assert scorer.baselines.thresholds("corpus")["latency_ms"] == pytest.approx(150.0)
