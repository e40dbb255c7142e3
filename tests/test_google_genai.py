"""GoogleGenAIInstrumentor: the real google-genai SDK over HTTP on 127.0.0.1 against the fake Gemini API."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest
from google import genai
from google.genai import errors, types
from opentelemetry.trace import SpanKind, StatusCode

from instrumentors.google_genai import GoogleGenAIInstrumentor
from otel_aitracer import span_to_record
from otel_aitracer.demo.fake_gemini import FakeGeminiServer

MODEL = "gemini-2.5-flash"


@pytest.fixture(scope="session")
def fake_gemini():
    with FakeGeminiServer() as server:
        yield server


@pytest.fixture
def instrumented(tracer_provider):
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, capture_content=True)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def client(fake_gemini):
    return genai.Client(api_key="gm-test", http_options={"base_url": fake_gemini.base_url})


def only_span(exporter):
    [span] = exporter.get_finished_spans()
    return span


def test_generate_content_is_one_span_with_conventions(instrumented, client, span_exporter):
    config = types.GenerateContentConfig(system_instruction="Be brief.", temperature=0.1, max_output_tokens=64, stop_sequences=["END"])
    response = client.models.generate_content(model=MODEL, contents="What is OpenTelemetry?", config=config)
    span = only_span(span_exporter)
    assert span.name == f"generate_content {MODEL}" and span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes)
    assert attrs["gen_ai.operation.name"] == "generate_content" and attrs["gen_ai.provider.name"] == "gcp.gemini"
    assert (attrs["gen_ai.request.temperature"], attrs["gen_ai.request.max_tokens"]) == (0.1, 64)
    assert attrs["gen_ai.request.stop_sequences"] == ("END",)
    assert attrs["gen_ai.response.id"] == response.response_id and attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["gen_ai.usage.input_tokens"] == response.usage_metadata.prompt_token_count
    assert attrs["gen_ai.usage.output_tokens"] == response.usage_metadata.candidates_token_count
    assert json.loads(attrs["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attrs["gen_ai.input.messages"]) == [{"role": "user", "parts": [{"type": "text", "content": "What is OpenTelemetry?"}]}]
    [out] = json.loads(attrs["gen_ai.output.messages"])
    assert out == {"role": "assistant", "parts": [{"type": "text", "content": response.text}], "finish_reason": "stop"}
    record = span_to_record(span)
    assert record["provider"] == "gemini" and record["operation"] == "generate_content" and record["cost"] > 0


def test_cached_tokens_are_cache_reads_within_input(instrumented, client, span_exporter):
    response = client.models.generate_content(model=MODEL, contents="hello", config=types.GenerateContentConfig(cached_content="cachedContents/abc"))
    attrs = only_span(span_exporter).attributes
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == response.usage_metadata.cached_content_token_count > 0
    assert attrs["gen_ai.usage.input_tokens"] == response.usage_metadata.prompt_token_count


def test_automatic_function_calling_is_one_span_with_the_history(instrumented, client, span_exporter, fake_gemini):
    def get_weather(location: str) -> str:
        """Weather for a city."""
        return "rainy"

    before = len(fake_gemini.requests)
    client.models.generate_content(model=MODEL, contents="Weather in Paris?", config=types.GenerateContentConfig(tools=[get_weather]))
    assert len(fake_gemini.requests) - before == 2  # the SDK called the model twice
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_content_parts_and_inline_data(instrumented, client, span_exporter):
    image = types.Part.from_bytes(data=b"\x89PNG" + b"\x00" * 2048, mime_type="image/png")
    contents = [types.Content(role="user", parts=[image, types.Part.from_text(text="What is this?")])]
    client.models.generate_content(model=MODEL, contents=contents)
    [message] = json.loads(only_span(span_exporter).attributes["gen_ai.input.messages"])
    blob, text = message["parts"]
    assert blob["type"] == "blob" and blob["modality"] == "image" and blob["content"].startswith("<2052 bytes, sha256:")
    assert text == {"type": "text", "content": "What is this?"}


def test_api_error_fails_the_span(instrumented, client, span_exporter):
    with pytest.raises(errors.ClientError):
        client.models.generate_content(model="error-429", contents="x")
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR and span.attributes["error.type"] == "ClientError"


def test_embed_content_is_an_embeddings_span(instrumented, client, span_exporter):
    client.models.embed_content(model="text-embedding-004", contents=["a", "b"], config={"output_dimensionality": 8})
    span = only_span(span_exporter)
    assert span.name == "embeddings text-embedding-004"
    assert span.attributes["gen_ai.operation.name"] == "embeddings" and span.attributes["gen_ai.embeddings.dimension.count"] == 8


def test_stream_exhausted(instrumented, client, span_exporter):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="stream me a story"))
    attrs = dict(only_span(span_exporter).attributes)
    text = "".join(c.text for c in chunks)
    assert attrs["gen_ai.request.stream"] is True and attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert json.loads(attrs["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": text}]
    assert attrs["gen_ai.usage.output_tokens"] == chunks[-1].usage_metadata.candidates_token_count


def test_stream_closed_early_and_dropped(instrumented, client, span_exporter):
    stream = client.models.generate_content_stream(model=MODEL, contents="stream me a story")
    next(stream)
    stream.close()
    dropped = client.models.generate_content_stream(model=MODEL, contents="another")
    next(dropped)
    del dropped
    gc.collect()
    spans = span_exporter.get_finished_spans()
    assert [s.attributes["gen_ai.response.finish_reasons"] for s in spans] == [("error",), ("error",)]


def test_stream_error_fails_the_span(instrumented, client, span_exporter):
    with pytest.raises(errors.ServerError):
        for _ in client.models.generate_content_stream(model="stream-error", contents="a b c d e f g h i j"):
            pass
    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert json.loads(span.attributes["gen_ai.output.messages"])[0]["finish_reason"] == "error"


def test_async_generate_stream_and_embed(instrumented, client, span_exporter):
    async def run():
        await client.aio.models.generate_content(model=MODEL, contents="async")
        stream = await client.aio.models.generate_content_stream(model=MODEL, contents="async stream")
        async for _ in stream:
            pass
        partial = await client.aio.models.generate_content_stream(model=MODEL, contents="async partial")
        await partial.__anext__()
        await partial.aclose()
        await client.aio.models.embed_content(model="text-embedding-004", contents="x")

    asyncio.run(run())
    spans = span_exporter.get_finished_spans()
    assert [s.name for s in spans] == [f"generate_content {MODEL}"] * 3 + ["embeddings text-embedding-004"]
    assert [s.attributes.get("gen_ai.response.finish_reasons") for s in spans[:3]] == [("stop",), ("stop",), ("error",)]


def test_uninstrument_restores_the_sdk(tracer_provider, client, span_exporter):
    original = genai.models.Models.generate_content
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    instrumentor.instrument(tracer_provider=tracer_provider)
    client.models.generate_content(model=MODEL, contents="x")
    instrumentor.uninstrument()
    client.models.generate_content(model=MODEL, contents="y")
    assert len(span_exporter.get_finished_spans()) == 1
    assert genai.models.Models.generate_content is original


@pytest.fixture
def legacy_model(fake_gemini, instrumented):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy SDK announces its end of support on import
        import google.generativeai as legacy
    legacy.configure(api_key="gm-test", transport="rest", client_options={"api_endpoint": fake_gemini.base_url})
    return legacy.GenerativeModel("gemini-1.5-flash", system_instruction="Be brief.", generation_config={"temperature": 0.3})


def test_legacy_generate_content(legacy_model, span_exporter):
    response = legacy_model.generate_content("What is OpenTelemetry?")
    span = only_span(span_exporter)
    attrs = dict(span.attributes)
    assert span.name == "generate_content gemini-1.5-flash" and attrs["gen_ai.provider.name"] == "gcp.gemini"
    assert attrs["gen_ai.request.temperature"] == 0.3
    assert attrs["gen_ai.usage.input_tokens"] == response.usage_metadata.prompt_token_count
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert json.loads(attrs["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attrs["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": response.text}]


def test_legacy_stream_iterated_resolved_and_left_early(legacy_model, span_exporter):
    streamed = legacy_model.generate_content("stream me", stream=True)
    text = "".join(chunk.text for chunk in streamed)
    resolved = legacy_model.generate_content("resolve me", stream=True)
    resolved.resolve()
    partial = legacy_model.generate_content("a long story please", stream=True)
    for _ in partial:
        break
    del partial
    gc.collect()
    first, second, third = span_exporter.get_finished_spans()
    assert json.loads(first.attributes["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": text}]
    assert first.attributes["gen_ai.request.stream"] is True and first.attributes["gen_ai.usage.output_tokens"] > 0
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert third.attributes["gen_ai.response.finish_reasons"] == ("error",)


def test_a_vertex_client_is_gcp_vertex_ai(instrumented, fake_gemini, span_exporter):
    from google.oauth2.credentials import Credentials

    vertex = genai.Client(
        vertexai=True, project="demo", location="us-central1", credentials=Credentials(token="fake"), http_options={"base_url": fake_gemini.base_url}
    )
    vertex.models.generate_content(model=MODEL, contents="hi")
    span = only_span(span_exporter)
    assert span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert span_to_record(span)["provider"] == "gemini"
