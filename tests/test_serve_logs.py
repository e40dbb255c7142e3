"""``POST /v1/logs`` (SPEC §6): OTLP log events joined to their span's record, whichever arrives first.

The real SDK ``LoggerProvider`` and the real OTLP/HTTP log exporter send the events, as the
official GenAI instrumentations and evaluators do; a real serve process on both engines.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid

import httpx
import pytest
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from .test_serve_shared import ADMIN, ALPHA, BETA, chat_span, otlp, send, serve_on, trace_records

DETAILS = "gen_ai.client.inference.operation.details"
INPUT = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "mail me at jane@example.com"}]}])
OUTPUT = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "done"}], "finish_reason": "stop"}])


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    process = serve_on(request, tmp_path_factory, "logs")
    yield process
    process.stop()


def emit(server, key, trace, span_id, events):
    """Each ``(event_name, attributes, body)`` as a log record in the span's context, through the real exporter."""
    provider = LoggerProvider(resource=Resource({"service.name": "app"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{server.url}/v1/logs", headers=key)))
    logger = provider.get_logger("genai")
    for name, attributes, body in events:
        logger.emit(LogRecord(timestamp=time.time_ns(), trace_id=int(trace, 16), span_id=int(span_id, 16), event_name=name,
                              attributes=attributes, body=body))  # fmt: skip
    provider.shutdown()


def no_content_span(trace, span_id):
    span = chat_span(trace, span_id)
    span["attributes"] = [a for a in span["attributes"] if a["key"] != "gen_ai.input.messages"]
    return span


EVENTS = [
    (DETAILS, {"gen_ai.input.messages": INPUT, "gen_ai.output.messages": OUTPUT}, None),
    ("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.9}, "relevant"),
]


def _check(record):
    assert [e["name"] for e in record["events"]] == [DETAILS, "gen_ai.evaluation.result"]
    assert record["input"] == {"messages": [{"role": "user", "content": "mail me at [EMAIL]"}]}  # filled, and redacted
    assert record["output"]["content"] == "done"
    assert "jane@example.com" not in json.dumps(record)
    evaluation = record["events"][1]
    assert evaluation["attributes"]["gen_ai.evaluation.score.value"] == 0.9 and evaluation["body"] == "relevant" and evaluation["time"]


def test_events_after_their_span(server):
    trace, span_id = uuid.uuid4().hex, "a100000000000001"
    send(server, otlp(no_content_span(trace, span_id)), ALPHA)
    emit(server, ALPHA, trace, span_id, EVENTS)
    [record] = trace_records(server, trace, ALPHA)
    _check(record)


def test_events_before_their_span(server):
    trace, span_id = uuid.uuid4().hex, "a100000000000002"
    emit(server, ALPHA, trace, span_id, EVENTS)
    assert trace_records(server, trace, ALPHA) == []  # kept pending, not a record of their own
    send(server, otlp(no_content_span(trace, span_id)), ALPHA)
    [record] = trace_records(server, trace, ALPHA)
    _check(record)


def test_a_span_with_content_keeps_its_own(server):
    trace, span_id = uuid.uuid4().hex, "a100000000000003"
    send(server, otlp(chat_span(trace, span_id, prompt="the span's own prompt")), ALPHA)
    emit(server, ALPHA, trace, span_id, EVENTS[:1])
    [record] = trace_records(server, trace, ALPHA)
    assert record["input"]["messages"][0]["content"] == "the span's own prompt" and len(record["events"]) == 1


def test_per_message_events_of_the_older_conventions_fill_content(server):
    trace, span_id = uuid.uuid4().hex, "a100000000000004"
    send(server, otlp(no_content_span(trace, span_id)), ALPHA)
    emit(server, ALPHA, trace, span_id, [("gen_ai.system.message", {}, {"content": "be brief"}), ("gen_ai.user.message", {}, {"content": "hi"}),
                                          ("gen_ai.choice", {}, {"index": 0, "finish_reason": "stop", "message": {"content": "hello"}})])  # fmt: skip
    [record] = trace_records(server, trace, ALPHA)
    assert record["input"] == {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}
    assert record["output"] == {"role": "assistant", "content": "hello"}


def test_another_projects_events_never_reach_a_record(server):
    trace, span_id = uuid.uuid4().hex, "a100000000000005"
    send(server, otlp(no_content_span(trace, span_id)), ALPHA)
    emit(server, BETA, trace, span_id, EVENTS)  # beta's key, alpha's ids
    [record] = trace_records(server, trace, ALPHA)
    assert "events" not in record and record["input"] is None


def _post_json(server, body, gzipped=False):
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **ALPHA}
    if gzipped:
        data, headers["Content-Encoding"] = gzip.compress(data), "gzip"
    return httpx.post(server.url + "/v1/logs", content=data, headers=headers, timeout=30)


def _logs_json(*records):
    return {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"scope": {"name": "t"}, "logRecords": list(records)}]}]}


def test_otlp_json_gzip_and_what_is_not_kept_is_said(server):
    trace, span_id = uuid.uuid4().hex, "a100000000000006"
    send(server, otlp(no_content_span(trace, span_id)), ALPHA)
    joined = {"traceId": trace, "spanId": span_id, "eventName": "gen_ai.evaluation.result", "body": {"stringValue": "ok"},
              "attributes": [{"key": "gen_ai.evaluation.name", "value": {"stringValue": "tone"}}]}  # fmt: skip
    plain = {"body": {"stringValue": "a log line with no span"}}
    answer = _post_json(server, _logs_json(joined, plain), gzipped=True)
    assert answer.status_code == 200 and "no span context" in answer.json()["partialSuccess"]["errorMessage"]
    [record] = trace_records(server, trace, ALPHA)
    assert [(e["name"], e["body"]) for e in record["events"]] == [("gen_ai.evaluation.result", "ok")]
    bad = _post_json(server, _logs_json({"traceId": trace, "spanId": "00" * 8, "body": {"stringValue": "x"}}))
    assert bad.status_code == 200 and bad.json()["partialSuccess"]["rejectedLogRecords"] == "1"
    assert _post_json(server, {"resourceLogs": "nope"}).status_code == 400


def test_a_log_record_naming_its_project_joins_that_projects_record(server):
    """A collector's admin key carries many projects: the project on the log record (as on the span) decides."""
    trace, span_id = uuid.uuid4().hex, "a100000000000007"
    send(server, otlp(no_content_span(trace, span_id), project="beta"), ADMIN)
    emit(server, ADMIN, trace, span_id, [("gen_ai.evaluation.result", {"aitracer.project": "beta"}, "fine")])
    [record] = trace_records(server, trace, BETA)
    assert [(e["name"], e["body"]) for e in record["events"]] == [("gen_ai.evaluation.result", "fine")]
    assert "aitracer.project" not in record["events"][0]["attributes"]
