"""Redaction on every path out of the process: records (store), span copies for any exporter, failures."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from instrumentors.openai import OpenAIInstrumentor
from otel_aitracer import AITracerSpanProcessor, PIIRedactor, RedactingSpanExporter
from otel_aitracer._destinations._store import SQLiteStore

from .helpers import run_python

EMAIL, CARD, KEY = "jane.doe@example.com", "4111 1111 1111 1111", "sk-proj-Abcdefghijklmnopqrstuvwxyz0123456789"
PROMPT = f"I am {EMAIL}, card {CARD}. My key is {KEY}, please keep it safe."
RAW = (EMAIL, CARD, KEY)


@pytest.fixture
def recorded(tmp_path: Path, client):
    """Runs one OpenAI call through the real instrumentor and processor into a SQLite store."""

    def run(**options) -> tuple[dict, object, Path]:
        store = tmp_path / "records.db"
        processor = AITracerSpanProcessor(project="pii", store=store, sync=True, **options)
        provider = TracerProvider()
        provider.add_span_processor(processor)
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=provider, capture_content=True)
        try:
            response = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
        finally:
            instrumentor.uninstrument()
            processor.shutdown()
        [record] = SQLiteStore(store).query()
        return record, response, store

    return run


def _store_bytes(store: Path) -> bytes:
    return b"".join(p.read_bytes() for p in store.parent.glob(store.name + "*"))


def test_an_openai_call_with_pii_is_stored_redacted_with_counts(recorded) -> None:
    record, response, store = recorded()
    assert record["input"]["messages"][0]["content"] == "I am [EMAIL], card [CREDIT_CARD]. My key is [SECRET], please keep it safe."
    reply = response.choices[0].message.content
    expected_out = PIIRedactor().redact(reply)
    assert record["output"]["content"] == expected_out and expected_out != reply
    counts: dict[str, int] = {}
    for finding in PIIRedactor().scan(PROMPT) + PIIRedactor().scan(reply):
        counts[finding.type] = counts.get(finding.type, 0) + 1
    assert record["pii"] == counts
    assert not any(raw.encode() in _store_bytes(store) for raw in RAW)


def test_with_detection_off_the_record_keeps_the_text(recorded) -> None:
    record, _, store = recorded(pii_detection=False)
    assert EMAIL in record["input"]["messages"][0]["content"]
    assert "pii" not in record
    assert EMAIL.encode() in _store_bytes(store)


def test_the_action_and_types_given_to_the_processor_apply(recorded) -> None:
    record, _, _ = recorded(pii_action="redact", pii_types=["email"])
    assert record["input"]["messages"][0]["content"] == f"I am ***, card {CARD}. My key is {KEY}, please keep it safe."


def test_redaction_failure_is_counted_as_a_drop(client, tmp_path: Path) -> None:
    class Broken(PIIRedactor):
        def scan(self, text):
            raise RuntimeError("detector bug")

    processor = AITracerSpanProcessor(store=tmp_path / "r.db", sync=True, redactor=Broken())
    provider = TracerProvider()
    provider.add_span_processor(processor)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])
    finally:
        instrumentor.uninstrument()
    assert reply.choices[0].message.content  # the application's call is untouched
    assert processor.stats()["dropped"]["redaction_error"] == 1
    assert SQLiteStore(tmp_path / "r.db").count() == 0
    processor.shutdown()


def _pii_span(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(f"chat for {EMAIL}", links=[]) as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": PROMPT}]}]),
                "http.request.header.authorization": ("Bearer abcdefghijklmnopqrstuvwxyz",),
                "app.notes": ["call +1 (646) 555-0100", "plain"],
                "gen_ai.usage.input_tokens": 12,
            }
        )
        span.add_event("exception", {"exception.message": f"quota exceeded for {EMAIL}"})
        span.set_status(Status(StatusCode.ERROR, f"failed for card {CARD}"))


def test_redacting_exporter_hands_redacted_copies_and_leaves_the_originals(tmp_path: Path) -> None:
    originals, redacted = InMemorySpanExporter(), InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(originals))
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(redacted, PIIRedactor())))
    _pii_span(provider)
    [original], [copy] = originals.get_finished_spans(), redacted.get_finished_spans()
    assert PROMPT in original.attributes["gen_ai.input.messages"]  # other processors still see the real span
    assert copy.name == "chat for [EMAIL]"
    messages = json.loads(copy.attributes["gen_ai.input.messages"])  # still valid JSON
    assert messages[0]["parts"][0]["content"] == "I am [EMAIL], card [CREDIT_CARD]. My key is [SECRET], please keep it safe."
    assert copy.attributes["http.request.header.authorization"] == ("[SECRET]",)
    assert copy.attributes["app.notes"] == ("call [PHONE]", "plain")
    assert copy.attributes["gen_ai.usage.input_tokens"] == 12
    assert copy.events[0].attributes["exception.message"] == "quota exceeded for [EMAIL]"
    assert copy.status.description == "failed for card [CREDIT_CARD]"
    assert (copy.context, copy.parent, copy.start_time, copy.end_time) == (original.context, original.parent, original.start_time, original.end_time)


def test_redacting_exporter_never_exports_raw_spans_when_redaction_fails() -> None:
    class Broken(PIIRedactor):
        def redact(self, text):
            raise RuntimeError("detector bug")

    inner = InMemorySpanExporter()
    exporter = RedactingSpanExporter(inner, Broken())
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span(f"for {EMAIL}") as span:
        pass
    assert exporter.export([span]) is SpanExportResult.FAILURE
    assert inner.get_finished_spans() == ()


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(b"")

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_the_real_otlp_http_exporter_sends_no_raw_value() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{server.server_port}/v1/traces")
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exporter)))
        _pii_span(provider)
        provider.shutdown()
    finally:
        server.shutdown()
    [body] = _Receiver.bodies
    assert not any(raw.encode() in body for raw in RAW + ("abcdefghijklmnopqrstuvwxyz", "555-0100"))
    request = ExportTraceServiceRequest.FromString(body)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    attrs = {a.key: a.value for a in span.attributes}
    assert "[EMAIL]" in attrs["gen_ai.input.messages"].string_value
    assert span.status.message == "failed for card [CREDIT_CARD]"


def test_register_reads_the_pii_environment(tmp_path: Path, fake_openai) -> None:
    result = run_python(
        f"""
        import openai, otel_aitracer
        from otel_aitracer._destinations._store import SQLiteStore
        pipeline = otel_aitracer.register(store={str(tmp_path / "r.db")!r})
        client = openai.OpenAI(api_key="sk-test", base_url={fake_openai.base_url!r}, max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "mail {EMAIL}"}}])
        pipeline.shutdown()
        [record] = SQLiteStore({str(tmp_path / "r.db")!r}).query()
        print(record["input"]["messages"][0]["content"])
        """,
        env={"AITRACER_PII_ACTION": "hash", "AITRACER_PII_SALT": "s"},
    )
    assert result.returncode == 0, result.stderr
    digest = __import__("hmac").new(b"s", EMAIL.encode(), "sha256").hexdigest()[:12]
    assert result.stdout.strip() == f"mail [EMAIL:{digest}]"
