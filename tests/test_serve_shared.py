"""``otel-aitracer serve`` shared by many teams (SPEC §6): a project is a wall, bad input is a 400.

A real serve process on a SQLite file and on PostgreSQL; two keys for two projects.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter

import httpx
import pytest

from otel_aitracer._destinations._http_sink import HTTPSink
from otel_aitracer._destinations._spool import Spool

from .server_process import ServerProcess

KEYS = "at-alpha=alpha;at-beta=beta;at-admin=*"
ALPHA = {"Authorization": "Bearer at-alpha"}
BETA = {"Authorization": "Bearer at-beta"}
ADMIN = {"Authorization": "Bearer at-admin"}


def serve_on(request, tmp_path_factory, name):
    """serve with the two project keys, on a SQLite file or PostgreSQL as ``request.param`` says."""
    store = tmp_path_factory.mktemp(name) / "server.db"
    if request.param == "postgres":
        store = request.getfixturevalue("postgres").new_database(f"{name}_tests")
    return ServerProcess(store, keys=KEYS, workers=1)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    process = serve_on(request, tmp_path_factory, "shared")
    yield process
    process.stop()


def _value(value):
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": value}


def chat_span(trace, span_id, parent="", prompt="hello", **attributes):
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
             "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 2,
             "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": prompt}]}]), **attributes}  # fmt: skip
    return {"traceId": trace, "spanId": span_id, "parentSpanId": parent, "name": "chat gpt-4o-mini", "kind": 3,
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
            "attributes": [{"key": k, "value": _value(v)} for k, v in attrs.items()]}  # fmt: skip


def otlp(*spans, project=None):
    resource = [{"key": "aitracer.project", "value": {"stringValue": project}}] if project else []
    return {"resourceSpans": [{"resource": {"attributes": resource}, "scopeSpans": [{"scope": {"name": "t"}, "spans": list(spans)}]}]}


def send(server, body, headers):
    answer = httpx.post(server.url + "/v1/traces", content=json.dumps(body), headers={"Content-Type": "application/json", **headers}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def trace_records(server, trace, headers):
    answer = httpx.get(f"{server.url}/api/v1/traces/{trace}", headers=headers, timeout=10)
    return answer.json()["logs"] if answer.status_code == 200 else []


def prompts(records):
    return [r["input"]["messages"][0]["content"] for r in records]


def new_trace():
    return uuid.uuid4().hex


# ---- a project is a wall ---------------------------------------------------------------------------
def test_a_child_span_naming_another_projects_span_as_parent_changes_nothing_of_it(server):
    trace = new_trace()
    send(server, otlp(chat_span(trace, "b000000000000001", prompt="beta secret plan")), BETA)
    send(server, otlp(chat_span(trace, "a000000000000001", parent="b000000000000001", prompt="alpha question")), ALPHA)
    [beta] = trace_records(server, trace, BETA)
    assert beta["span_id"] == "b000000000000001" and prompts([beta]) == ["beta secret plan"]
    [alpha] = trace_records(server, trace, ALPHA)
    assert alpha["span_id"] == "a000000000000001" and prompts([alpha]) == ["alpha question"]  # nothing of beta's merged in


def test_writing_another_projects_ids_first_does_not_make_its_real_span_a_duplicate(server):
    trace = new_trace()
    send(server, otlp(chat_span(trace, "c000000000000001", prompt="squatted by alpha")), ALPHA)
    answer = send(server, otlp(chat_span(trace, "c000000000000001", prompt="beta's real call")), BETA)
    assert "partialSuccess" not in answer
    assert prompts(trace_records(server, trace, BETA)) == ["beta's real call"]
    assert prompts(trace_records(server, trace, ALPHA)) == ["squatted by alpha"]


@pytest.mark.parametrize("order", ["app first", "gateway first", "one request"])
def test_an_app_calling_through_another_teams_gateway_keeps_its_records(server, order):
    """Same trace, two projects: the app's LLM span (alpha) is the parent of the gateway's LLM span (beta)."""
    trace = new_trace()
    app = chat_span(trace, "d000000000000001", prompt="app prompt")
    gateway = chat_span(trace, "d000000000000002", parent="d000000000000001", prompt="gateway prompt")
    if order == "one request":  # a collector with an admin key forwards both services' spans together
        body = otlp(app, project="alpha")
        body["resourceSpans"] += otlp(gateway, project="beta")["resourceSpans"]
        send(server, body, ADMIN)
    else:
        sends = [(otlp(app), ALPHA), (otlp(gateway), BETA)]
        for body, headers in sends if order == "app first" else reversed(sends):
            send(server, body, headers)
    assert prompts(trace_records(server, trace, ALPHA)) == ["app prompt"]
    assert prompts(trace_records(server, trace, BETA)) == ["gateway prompt"]


def test_within_one_project_the_outer_duplicate_is_still_folded(server):
    trace = new_trace()
    send(server, otlp(chat_span(trace, "e000000000000002", parent="e000000000000001", prompt="inner")), ALPHA)
    send(server, otlp(chat_span(trace, "e000000000000001", prompt="outer")), ALPHA)
    assert [r["span_id"] for r in trace_records(server, trace, ALPHA)] == ["e000000000000002"]


# ---- bad input is a 400 for that span alone ---------------------------------------------------------
def _nested(depth):
    return "[" * depth + "]" * depth


BAD_SPAN_ATTRIBUTES = {
    "content nested 300 deep": {"gen_ai.input.messages": _nested(300)},
    "content nested 990 deep": {"gen_ai.output.messages": _nested(990)},
    "tokens 1e30": {"gen_ai.usage.input_tokens": 1e30},
    "tokens 2^63 as a double": {"gen_ai.usage.output_tokens": 9.3e18},
    "tokens NaN": {"gen_ai.usage.input_tokens": "NaN"},
    "operation as a list": {"gen_ai.operation.name": ["chat", "chat"]},
    "a 3 KB session id": {"session.id": "s" * 3000},
}


@pytest.mark.parametrize("case", sorted(BAD_SPAN_ATTRIBUTES))
def test_a_span_that_can_never_be_stored_is_rejected_alone(server, case):
    trace = new_trace()
    attributes = BAD_SPAN_ATTRIBUTES[case]
    bad = chat_span(trace, "f000000000000001", prompt="bad one", **attributes)
    if case == "tokens NaN":
        bad["attributes"] = [a if a["key"] != "gen_ai.usage.input_tokens" else {"key": a["key"], "value": {"doubleValue": "NaN"}} for a in bad["attributes"]]
    good = chat_span(trace, "f000000000000002", prompt="good one")
    answer = send(server, otlp(bad, good), ALPHA)
    assert answer["partialSuccess"]["rejectedSpans"] == "1", answer  # said, not silently dropped
    assert answer["partialSuccess"]["errorMessage"]
    assert prompts(trace_records(server, trace, ALPHA)) == ["good one"]


GOOD_NATIVE = {"model": "gpt-4o-mini", "provider": "openai", "input": {"q": "good"}}
BAD_NATIVE = {
    "input nested 300 deep": {"input": json.loads(_nested(300))},
    "input_tokens 2^63": {"input_tokens": 2**63},
    "input_tokens 1e30": {"input_tokens": 1e30},
    "operation as a list": {"operation": ["chat"]},
    "a 3 KB session id": {"session_id": "s" * 3000},
    "a 3 KB user id": {"app_user_id": "u" * 3000},
    "cost as text": {"cost": "0.1"},
    "latency as a float": {"latency_ms": 1.5},
}


@pytest.mark.parametrize("case", sorted(BAD_NATIVE))
def test_a_native_record_that_can_never_be_stored_is_a_400_alone(server, case):
    trace = new_trace()
    bad = {**GOOD_NATIVE, "trace_id": trace, "span_id": "0000000000000b01", **BAD_NATIVE[case]}
    good = {**GOOD_NATIVE, "trace_id": trace, "span_id": "0000000000000b02"}
    answer = httpx.post(f"{server.url}/api/v1/logs/batch/", content=json.dumps({"logs": [bad, good]}),
                        headers={"Content-Type": "application/json", **ALPHA}, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1 and answer.json()["rejected"] == 1 and answer.json()["errors"]
    assert [r["span_id"] for r in trace_records(server, trace, ALPHA)] == ["0000000000000b02"]
    single = httpx.post(f"{server.url}/api/v1/logs/", content=json.dumps({**bad, "span_id": "0000000000000b03"}),
                        headers={"Content-Type": "application/json", **ALPHA}, timeout=30)  # fmt: skip
    assert single.status_code == 400 and single.json()["error"]


def test_our_http_sink_delivers_everything_but_the_record_serve_can_never_store(server, tmp_path):
    """One record serve must refuse (a 3 KB session id) among 100, each its own request: 100 arrive, 1 is counted rejected."""
    counts: Counter[str] = Counter()
    sink = HTTPSink(server.url, "at-alpha", Spool(tmp_path / "spool.db", 10**8, 3600), lambda reason, n: counts.update({reason: n}))
    trace = new_trace()
    sink.write([{**GOOD_NATIVE, "trace_id": trace, "span_id": "00000000000000ff", "session_id": "s" * 3000}])
    for n in range(100):
        sink.write([{**GOOD_NATIVE, "trace_id": trace, "span_id": f"{n + 1:016x}"}])
    assert sink.flush(timeout=60)
    assert len(trace_records(server, trace, ALPHA)) == 100
    assert (counts["sent"], counts["rejected"]) == (100, 1)
    sink.close()
