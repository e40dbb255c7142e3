"""Hypothesis-fuzzed OTLP bodies (protobuf and JSON) never get a 5xx from a real serve process."""

from __future__ import annotations

import base64
import gzip
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .server_process import ServerProcess

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
ANY_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=30)
HEXISH = st.one_of(st.text("0123456789abcdefABCDEF", max_size=40), st.text(max_size=40), st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode()))
VALUE = st.fixed_dictionaries({}, optional={"stringValue": st.text(max_size=20), "intValue": st.one_of(st.integers(), st.text(max_size=8)),
                                             "doubleValue": st.floats(), "boolValue": st.booleans(), "arrayValue": ANY_JSON})  # fmt: skip
SPAN = st.fixed_dictionaries(
    {"traceId": HEXISH, "spanId": HEXISH},
    optional={"parentSpanId": HEXISH, "name": st.text(max_size=20), "kind": st.one_of(st.integers(-3, 9), st.text(max_size=20)),
              "startTimeUnixNano": st.one_of(st.integers(), st.text(max_size=20)), "endTimeUnixNano": st.one_of(st.integers(), st.text(max_size=20)),
              "attributes": st.lists(st.fixed_dictionaries({"key": st.sampled_from(["gen_ai.operation.name", "gen_ai.request.model", "x"]), "value": VALUE}), max_size=4),
              "status": ANY_JSON, "events": ANY_JSON},
)  # fmt: skip
KEYS = st.sampled_from(["gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.input.messages", "gen_ai.output.messages",
                        "gen_ai.usage.input_tokens", "llm.input_messages.0.message.content", "session.id", "aitracer.project", "aitracer.metadata"])
MAPPABLE_SPAN = st.fixed_dictionaries(
    {"traceId": st.binary(min_size=16, max_size=16).map(bytes.hex), "spanId": st.binary(min_size=8, max_size=8).map(bytes.hex),
     "attributes": st.lists(st.fixed_dictionaries({"key": KEYS, "value": VALUE}), max_size=8).map(
         lambda attrs: [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}, *attrs])},
    optional={"parentSpanId": st.binary(min_size=8, max_size=8).map(bytes.hex), "status": st.fixed_dictionaries({"code": st.integers(-1, 5), "message": st.text(max_size=20)})},
)  # fmt: skip
OTLP_JSON = st.builds(lambda spans, extra: {"resourceSpans": [{"scopeSpans": [{"spans": spans}], **extra}]}, st.lists(st.one_of(SPAN, MAPPABLE_SPAN), max_size=4), st.dictionaries(st.text(max_size=8), ANY_JSON, max_size=2))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def send(client, body: bytes, content_type: str, gzipped: bool = False) -> int:
    headers = {"Content-Type": content_type}
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    return client.post("/v1/traces", content=body, headers=headers).status_code


@FUZZ
@given(body=st.binary(max_size=2048), gzipped=st.booleans())
def test_random_protobuf_bytes(client, body, gzipped):
    assert send(client, body, "application/x-protobuf", gzipped) < 500


@FUZZ
@given(document=st.one_of(ANY_JSON, OTLP_JSON))
def test_random_json_documents(client, document):
    assert send(client, json.dumps(document).encode(), "application/json") < 500


@FUZZ
@given(document=OTLP_JSON, gzipped=st.booleans())
def test_otlp_shaped_json(client, document, gzipped):
    assert send(client, json.dumps(document).encode(), "application/json", gzipped) < 500


@FUZZ
@given(body=st.binary(max_size=512))
def test_random_native_bodies(client, body):
    for path in ("/api/v1/logs/batch/", "/api/v1/logs/", "/api/v1/sessions/"):
        assert client.post(path, content=body, headers={"Content-Type": "application/json"}).status_code < 500
