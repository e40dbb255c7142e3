"""With an API key, records are POSTed to the AITracer batch endpoint on a real loopback server."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_aitracer import AITracerSpanProcessor

from .fake_aitracer_api import FakeAITracerAPI

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}


@pytest.fixture
def ingest():
    with FakeAITracerAPI() as api:
        yield api


def send_one(processor):
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("a").start_span("chat gpt-4o-mini", attributes=GENAI).end()
    processor.force_flush()


def test_records_are_posted_as_a_batch_with_bearer_key(ingest):
    processor = AITracerSpanProcessor(project="remote", api_key="at-test", base_url=ingest.base_url)
    send_one(processor)
    [(method, path, auth, body)] = ingest.requests
    assert method == "POST" and path == "/api/v1/logs/batch/" and auth == "Bearer at-test"
    assert [r["project"] for r in body["logs"]] == ["remote"]
    assert processor.stats()["written"] == 1
    processor.shutdown()


def test_rejected_batch_is_counted(ingest):
    ingest.status = 500
    processor = AITracerSpanProcessor(api_key="at-test", base_url=ingest.base_url)
    send_one(processor)
    assert len(ingest.requests) == 1
    assert processor.stats()["dropped"]["sink_error"] == 1 and processor.stats()["written"] == 0
    processor.shutdown()


def test_what_is_posted_is_already_redacted(ingest):
    processor = AITracerSpanProcessor(api_key="at-test", base_url=ingest.base_url)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "I am jane@example.com, card 4111 1111 1111 1111"}]}])
    provider.get_tracer("a").start_span("chat gpt-4o-mini", attributes={**GENAI, "gen_ai.input.messages": messages}).end()
    processor.force_flush()
    [(_, _, _, body)] = ingest.requests
    [record] = body["logs"]
    assert record["input"]["messages"][0]["content"] == "I am [EMAIL], card [CREDIT_CARD]"
    assert record["pii"] == {"credit_card": 1, "email": 1}
    assert "jane@example.com" not in json.dumps(body)
    processor.shutdown()
