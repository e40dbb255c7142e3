"""With an API key, records are POSTed to the AITracer batch endpoint on a real loopback server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_aitracer import AITracerSpanProcessor

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}


@pytest.fixture
def ingest():
    """A tiny AITracer API stand-in: stores what it receives, answers with ``status``."""
    received = []
    state = {"status": 201}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Authorization"], json.loads(body)))
            self.send_response(state["status"])
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received, state
    server.shutdown()
    server.server_close()


def send_one(processor):
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("a").start_span("chat gpt-4o-mini", attributes=GENAI).end()
    processor.force_flush()


def test_records_are_posted_as_a_batch_with_bearer_key(ingest):
    url, received, _ = ingest
    processor = AITracerSpanProcessor(project="remote", api_key="at-test", base_url=url)
    send_one(processor)
    [(path, auth, body)] = received
    assert path == "/api/v1/logs/batch/" and auth == "Bearer at-test"
    assert [r["project"] for r in body["logs"]] == ["remote"]
    assert processor.stats()["written"] == 1
    processor.shutdown()


def test_rejected_batch_is_counted(ingest):
    url, received, state = ingest
    state["status"] = 500
    processor = AITracerSpanProcessor(api_key="at-test", base_url=url)
    send_one(processor)
    assert len(received) == 1
    assert processor.stats()["dropped"]["sink_error"] == 1 and processor.stats()["written"] == 0
    processor.shutdown()


def test_what_is_posted_is_already_redacted(ingest):
    url, received, _ = ingest
    processor = AITracerSpanProcessor(api_key="at-test", base_url=url)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "I am jane@example.com, card 4111 1111 1111 1111"}]}])
    provider.get_tracer("a").start_span("chat gpt-4o-mini", attributes={**GENAI, "gen_ai.input.messages": messages}).end()
    processor.force_flush()
    [(_, _, body)] = received
    [record] = body["logs"]
    assert record["input"]["messages"][0]["content"] == "I am [EMAIL], card [CREDIT_CARD]"
    assert record["pii"] == {"credit_card": 1, "email": 1}
    assert "jane@example.com" not in json.dumps(body)
    processor.shutdown()
