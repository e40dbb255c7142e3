"""``otel-aitracer serve`` as a real process: the real OTLP exporters and our HTTP sink talk to it."""

from __future__ import annotations

import gzip
import json

import httpx
import openai
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from instrumentors.openai import OpenAIInstrumentor
from otel_aitracer import AITracer
from otel_aitracer._destinations._open import open_records_db

from .server_process import ServerProcess

KEYS = "at-chat=chatbot,shared;at-search=search;at-admin=*"
CHAT = {"Authorization": "Bearer at-chat"}
GENAI = [
    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
    {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
    {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 5}},
]
TRACE = "5B8EFFF798038103D269B633813FC60C"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    """serve with 2 workers and gRPC, on a SQLite file or on PostgreSQL: every test runs against both."""
    store = tmp_path_factory.mktemp("serve") / "server.db"
    if request.param == "postgres":
        store = request.getfixturevalue("postgres").new_database("serve_tests")
    process = ServerProcess(store, keys=KEYS, workers=2, grpc=True)
    yield process
    process.stop()


def otlp_json(spans, resource=None):
    return {"resourceSpans": [{"resource": {"attributes": resource or []}, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}


def span(span_id="EEE19B7EC3C1B174", parent="", trace=TRACE, attributes=GENAI, **extra):
    return {"traceId": trace, "spanId": span_id, "parentSpanId": parent, "name": "chat gpt-4o-mini", "kind": 3,
            "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": 1544712661000000000, "attributes": attributes, **extra}  # fmt: skip


def post(server, body, content_type="application/json", headers=CHAT, path="/v1/traces"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(server.url + path, content=data, headers={"Content-Type": content_type, **headers}, timeout=30)


def records(server, trace_id, headers=CHAT):
    answer = httpx.get(f"{server.url}/api/v1/traces/{trace_id}", headers=headers, timeout=10)
    return answer.json().get("logs", []) if answer.status_code == 200 else []


def test_the_real_otlp_exporter_delivers_instrumented_calls(server, fake_openai):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", headers=CHAT)))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        client = openai.OpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)
        with provider.get_tracer("app").start_as_current_span("request") as root:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "I am jane@example.com"}])
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    [record] = records(server, format(root.get_span_context().trace_id, "032x"))
    assert record["project"] == "chatbot" and record["operation"] == "chat" and record["output_tokens"] > 0
    assert record["input"]["messages"][0]["content"] == "I am [EMAIL]"  # redacted by the server too


def test_otlp_json_hex_ids_are_read_as_hex_not_base64(server):
    answer = post(server, otlp_json([span(unknownField=1)]))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json") and answer.json() == {}
    [record] = records(server, TRACE.lower())
    assert (record["trace_id"], record["span_id"], record["input_tokens"]) == (TRACE.lower(), "eee19b7ec3c1b174", 12)


@pytest.mark.parametrize(
    ("trace_id", "why"),
    [("W47/95gDgQPSabYzgT/GDA==", "not hex"), ("5b8efff798038103", "32 hex digits"), ("zz" * 16, "not hex")],
)
def test_otlp_json_bad_ids_are_a_400_never_a_wrong_id(server, trace_id, why):
    answer = post(server, otlp_json([span(trace=trace_id)]))
    assert answer.status_code == 400 and answer.json()["code"] == 3 and why in answer.json()["message"]


def test_protobuf_gzip_charset_and_partial_success(server):
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    document = otlp_json([span(span_id="1111111111111111", trace="a" * 32), span(span_id="0000000000000000", trace="a" * 32)])
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = ""  # an empty span id: rejected alone
    good = ExportTraceServiceRequest()
    json_format.ParseDict(_b64(document), good)
    answer = post(server, gzip.compress(good.SerializeToString()), "application/x-protobuf", {**CHAT, "Content-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(answer.content)
    assert parsed.partial_success.rejected_spans == 1 and "span_id" in parsed.partial_success.error_message
    assert [r["span_id"] for r in records(server, "a" * 32)] == ["1111111111111111"]
    assert post(server, otlp_json([]), "Application/JSON; charset=utf-8").status_code == 200


def _b64(document):
    """OTLP JSON -> protobuf JSON (base64 ids), for building a protobuf request in the test."""
    import base64

    for rs in document["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    s[key] = base64.b64encode(bytes.fromhex(s[key])).decode() if s.get(key) else ""
    return document


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [(b"not gzip", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, 400),
     (b"{}", {"Content-Type": "text/plain"}, 415),
     (b"\x0a\x05garbage", {"Content-Type": "application/x-protobuf"}, 400),
     (b"{not json", {"Content-Type": "application/json"}, 400),
     (b"{}", {"Content-Type": "application/json", "Content-Encoding": "br"}, 415)],
)  # fmt: skip
def test_bad_bodies_are_4xx_with_a_status(server, body, headers, status):
    answer = httpx.post(server.url + "/v1/traces", content=body, headers={**CHAT, **headers}, timeout=10)
    assert answer.status_code == status
    if status == 400 and headers["Content-Type"] == "application/x-protobuf":
        assert status_pb2.Status.FromString(answer.content).code == 3


def test_limits_413_and_a_gzip_bomb_is_not_inflated(server):
    huge = b"{" + b" " * (17 * 1024 * 1024) + b"}"
    assert post(server, huge).status_code == 413
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)  # 200 MiB of zeros in ~200 KB
    answer = post(server, bomb, headers={**CHAT, "Content-Encoding": "gzip"})
    assert answer.status_code == 413 and "decompressed" in answer.json()["message"]


def test_method_not_allowed_and_health(server):
    assert httpx.get(server.url + "/v1/traces", timeout=10).status_code == 405
    assert httpx.get(server.url + "/healthz", timeout=10).json()["status"] == "ok"


def test_keys_are_bound_to_projects(server):
    body = otlp_json([span(span_id="2222222222222222", trace="b" * 32)])
    assert post(server, body, headers={}).status_code == 401
    assert post(server, body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    other = otlp_json([span(span_id="2222222222222222", trace="b" * 32)], resource=[{"key": "aitracer.project", "value": {"stringValue": "search"}}])
    assert post(server, other).status_code == 403  # at-chat may not write to search
    assert post(server, other, headers={"Authorization": "Bearer at-search"}).status_code == 200
    assert records(server, "b" * 32) == []  # nor read it: the same 404 as for a trace that does not exist
    assert [r["project"] for r in records(server, "b" * 32, {"Authorization": "Bearer at-admin"})] == ["search"]


def test_native_records_one_bad_one_rejected_alone_and_duplicates_dropped(server):
    good = {"model": "gpt-4o-mini", "provider": "openai", "span_id": "3333333333333333", "trace_id": "c" * 32, "input": {"q": "mail bob@example.com"}}
    answer = httpx.post(f"{server.url}/api/v1/logs/batch/", json={"logs": [good, {"model": 3}, good]}, headers=CHAT, timeout=10)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1 and answer.json()["rejected"] == 1 and answer.json()["duplicates"] == 1
    [stored] = records(server, "c" * 32)
    assert stored["input"] == {"q": "mail [EMAIL]"} and stored["project"] == "chatbot"
    assert httpx.post(f"{server.url}/api/v1/logs/", json={"provider": "x"}, headers=CHAT, timeout=10).status_code == 400
    assert httpx.post(f"{server.url}/api/v1/logs/batch/", json=[1, 2], headers=CHAT, timeout=10).status_code == 400


def test_an_llm_span_inside_an_llm_span_of_the_same_call_is_one_record(server):
    outer_attrs = GENAI + [{"key": "session.id", "value": {"stringValue": "sess-1"}}]
    inner = span(span_id="4444444444444444", parent="5555555555555555", trace="d" * 32)
    middle = span(span_id="5555555555555555", parent="6666666666666666", trace="d" * 32, attributes=[])  # an HTTP span, say
    outer = span(span_id="6666666666666666", trace="d" * 32, attributes=outer_attrs)
    assert post(server, otlp_json([inner, middle, outer])).status_code == 200
    [record] = records(server, "d" * 32)
    assert record["span_id"] == "4444444444444444" and record["session_id"] == "sess-1"  # the inner one, with what the outer knew
    # across requests: the inner call arrives first, its direct parent later, and the inner record takes what it knew
    post(server, otlp_json([span(span_id="7777777777777777", parent="8888888888888888", trace="e" * 32)]))
    post(server, otlp_json([span(span_id="8888888888888888", trace="e" * 32, attributes=outer_attrs)]))
    assert [(r["span_id"], r["session_id"]) for r in records(server, "e" * 32)] == [("7777777777777777", "sess-1")]


def test_the_aitracer_facade_with_sessions_sends_to_serve(server):
    tracer = AITracer(api_key="at-chat", base_url=server.url, project="shared")
    with tracer.session("s-serve", user_id="u-1") as session:
        tracer.log({"model": "gpt-4o-mini", "provider": "openai", "input_data": {"q": "hi"}})
        session.thumbs_up()
    assert tracer.flush(10)
    tracer.shutdown()
    logs = httpx.get(f"{server.url}/api/v1/logs", params={"session": "s-serve"}, headers=CHAT, timeout=10).json()["logs"]
    assert [(r["project"], r["app_user_id"]) for r in logs] == [("shared", "u-1")]
    store = open_records_db(server.store)
    events = store.session_events("s-serve")
    assert [(e["type"], e["log_id"]) for e in events] == [("feedback", logs[0]["span_id"])]
    assert store.sessions()[-1]["ended_at"] is not None


def test_the_cli_reads_from_a_server(server):
    import subprocess
    import sys

    from .helpers import ROOT

    trace_id = "f" * 32
    post(server, otlp_json([span(span_id="9999999999999999", trace=trace_id)]))

    def cli(*args):
        env = {"PATH": "/usr/bin:/bin", "AITRACER_API_KEY": "at-chat"}
        return subprocess.run([sys.executable, "-m", "otel_aitracer", *args, "--server", server.url], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)

    logs = json.loads(cli("logs", "--trace", trace_id, "--json").stdout)
    assert [r["span_id"] for r in logs] == ["9999999999999999"]
    tree = cli("trace", trace_id)
    assert tree.returncode == 0 and "chat gpt-4o-mini" in tree.stdout
    stats = json.loads(cli("stats", "--by", "project", "--json").stdout)
    assert {row["project"] for row in stats} <= {"chatbot", "shared"} and sum(row["requests"] for row in stats) >= 1
    assert cli("trace", "0" * 31 + "1").returncode == 1
    refused = subprocess.run([sys.executable, "-m", "otel_aitracer", "logs", "--server", server.url], capture_output=True, text=True, cwd=ROOT,
                             env={"PATH": "/usr/bin:/bin"}, timeout=60)  # fmt: skip
    assert refused.returncode == 2 and "401" in refused.stderr


def test_the_real_otlp_grpc_exporter(server):
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-haiku-4-5"}
    provider = TracerProvider()
    exporter = GrpcExporter(endpoint=f"127.0.0.1:{server.grpc_port}", insecure=True, headers=(("authorization", "Bearer at-chat"),))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("grpc").start_as_current_span("chat claude-haiku-4-5", attributes=attributes) as span:
        pass
    provider.shutdown()
    [record] = records(server, format(span.get_span_context().trace_id, "032x"))
    assert (record["provider"], record["project"]) == ("anthropic", "chatbot")
    refused = GrpcExporter(endpoint=f"127.0.0.1:{server.grpc_port}", insecure=True, headers=(("authorization", "Bearer nope"),), timeout=5)
    assert refused.export([span]) == SpanExportResult.FAILURE  # UNAUTHENTICATED is not retried


def test_the_real_otlp_grpc_log_exporter_adds_events(server):
    from opentelemetry._logs import LogRecord
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    trace_id, span_id = "f1" * 16, "f2" * 8
    post(server, otlp_json([span(span_id=span_id.upper(), trace=trace_id.upper())]))
    provider = LoggerProvider()
    exporter = OTLPLogExporter(endpoint=f"127.0.0.1:{server.grpc_port}", insecure=True, headers=(("authorization", "Bearer at-chat"),))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    provider.get_logger("eval").emit(LogRecord(trace_id=int(trace_id, 16), span_id=int(span_id, 16), event_name="gen_ai.evaluation.result",
                                               attributes={"gen_ai.evaluation.name": "tone"}, body="calm"))  # fmt: skip
    provider.shutdown()
    [record] = records(server, trace_id)
    assert [(e["name"], e["body"]) for e in record["events"]] == [("gen_ai.evaluation.result", "calm")]


def _attrs(mapping):
    out = []
    for key, value in mapping.items():
        if isinstance(value, bool):
            out.append({"key": key, "value": {"boolValue": value}})
        elif isinstance(value, int):
            out.append({"key": key, "value": {"intValue": str(value)}})
        elif isinstance(value, list):
            out.append({"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}})
        else:
            out.append({"key": key, "value": {"stringValue": value}})
    return out


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.prompt.0.role": "user",  # OpenLLMetry
          "gen_ai.prompt.0.content": "mail jane@example.com", "gen_ai.completion.0.content": "ok", "gen_ai.usage.prompt_tokens": 9,
          "gen_ai.usage.completion_tokens": 2, "traceloop.association.properties.session_id": "ol-1"},
         ("openai", "chat", 9, "ol-1")),
        ({"openinference.span.kind": "LLM", "llm.provider": "anthropic", "llm.model_name": "claude-haiku-4-5",  # OpenInference
          "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "mail jane@example.com",
          "llm.token_count.prompt": 11, "llm.token_count.completion": 3, "session.id": "oi-1"},
         ("anthropic", "chat", 11, "oi-1")),
        ({"gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",  # Logfire (GenAI conventions)
          "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "mail jane@example.com"}]}]),
          "gen_ai.usage.input_tokens": 13, "logfire.span_type": "span", "logfire.msg": "Chat Completion with 'gpt-4o-mini'", "session.id": "lf-1"},
         ("openai", "chat", 13, "lf-1")),
    ],
    ids=["openllmetry", "openinference", "logfire"],
)  # fmt: skip
def test_spans_of_other_instrumentations_become_redacted_records(server, attributes, expected):
    trace_id = format(hash(expected[3]) & ((1 << 128) - 1) | 1, "032x")
    assert post(server, otlp_json([span(span_id="abababababababab", trace=trace_id, attributes=_attrs(attributes))])).status_code == 200
    [record] = records(server, trace_id)
    assert (record["provider"], record["operation"], record["input_tokens"], record["session_id"]) == expected
    assert "jane@example.com" not in json.dumps(record) and "[EMAIL]" in json.dumps(record["input"])


def _logfire_stream(trace_id, request_id, log_id, parent="1212121212121212"):
    """A Logfire streamed call: the request span, then the 'streaming response' log with the result."""
    common = {"gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
              "request_data": '{"model":"gpt-4o-mini"}', "logfire.tags": ["LLM"]}  # fmt: skip
    request = span(span_id=request_id, parent=parent, trace=trace_id, attributes=_attrs({**common, "logfire.span_type": "span"}),
                   startTimeUnixNano="1700000000000000000", endTimeUnixNano="1700000000050000000")  # fmt: skip
    result = {**common, "logfire.span_type": "log", "logfire.msg_template": "streaming response from {request_data[model]!r} took {duration:.2f}s",
              "gen_ai.usage.input_tokens": 8, "gen_ai.usage.output_tokens": 23,
              "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "streamed answer"}]}])}  # fmt: skip
    log = span(span_id=log_id, parent=parent, trace=trace_id, attributes=_attrs(result),
               startTimeUnixNano="1700000000900000000", endTimeUnixNano="1700000000900000000")  # fmt: skip
    return request, log


def test_a_streamed_result_whose_request_never_came_is_its_own_record_without_marks(server):
    """Serve marks a 'streaming response' log whose request span is not in its request, to pair it with the stored one;
    when none is stored the log is kept as it is, and the mark is never stored with it."""
    trace_id = "3c" * 16
    _, log = _logfire_stream(trace_id, "5757575757575757", "7979797979797979")
    assert post(server, otlp_json([log])).status_code == 200
    [record] = records(server, trace_id)
    assert record["span_id"] == "7979797979797979" and not [key for key in record if key.startswith("_")]


@pytest.mark.parametrize("together", [True, False], ids=["one request", "two requests"])
def test_a_logfire_streamed_call_is_one_record(server, together):
    trace_id = ("3a" if together else "3b") * 16
    request, log = _logfire_stream(trace_id, "5656565656565656", "7878787878787878")
    if together:
        assert post(server, otlp_json([request, log])).status_code == 200
    else:  # SimpleSpanProcessor: the request span is exported when create() returns, the log when the stream ends
        assert post(server, otlp_json([request])).status_code == 200
        assert post(server, otlp_json([log])).status_code == 200
    [record] = records(server, trace_id)
    assert (record["span_id"], record["input_tokens"], record["output_tokens"]) == ("5656565656565656", 8, 23)
    assert record["output"]["content"] == "streamed answer" and record["latency_ms"] == 900


def test_the_test_servers_run_the_code_of_their_own_tree(tmp_path, monkeypatch):
    """``python -m`` puts the working directory first on the path: a bench or test run from another checkout's
    directory must still serve the code of the tree it belongs to (an A/B of two trees compared one tree twice)."""
    (tmp_path / "otel_aitracer").mkdir()
    (tmp_path / "otel_aitracer" / "__init__.py").write_text("raise ImportError('the code of the working directory, not the tree under test')\n")
    monkeypatch.chdir(tmp_path)
    server = ServerProcess(tmp_path / "s.db")
    try:
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        server.stop()
