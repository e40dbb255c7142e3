"""Every gen_ai.* attribute our instrumentors emit, for every operation, is one the conventions define."""

from __future__ import annotations

import asyncio
import json

import anthropic
import openai
import pytest
from google import genai
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Sampler
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.attributes import openai_attributes as OpenAIAttr

from instrumentors.anthropic import AnthropicInstrumentor
from instrumentors.google_genai import GoogleGenAIInstrumentor
from instrumentors.openai import OpenAIInstrumentor
from otel_aitracer.demo.fake_anthropic import FakeAnthropicServer
from otel_aitracer.demo.fake_gemini import FakeGeminiServer

# Defined by the conventions' registry but not (yet) constants of the semconv package.
DOCUMENTED = {"gen_ai.request.reasoning.level", "gen_ai.request.previous_response.id", "gen_ai.usage.cache_write.input_tokens", "gen_ai.conversation.compacted"}
KNOWN_KEYS = {v for k, v in vars(GenAI).items() if k.startswith("GEN_AI_") and isinstance(v, str)} | DOCUMENTED
KNOWN_KEYS |= {v for k, v in vars(OpenAIAttr).items() if k.startswith("OPENAI_") and isinstance(v, str)}
OPERATIONS = {m.value for m in GenAI.GenAiOperationNameValues}
PROVIDERS = {m.value for m in GenAI.GenAiProviderNameValues}
FINISH_REASONS = {"stop", "length", "content_filter", "tool_call", "compaction", "error"}
PART_TYPES = {"text", "tool_call", "tool_call_response", "blob", "file", "uri", "reasoning"}
ROLES = {"system", "user", "assistant", "tool"}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}


class RecordingSampler(Sampler):
    """Samples everything and keeps the attributes each span was started with."""

    def __init__(self) -> None:
        self.started: list[dict] = []

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        self.started.append(dict(attributes or {}))
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "RecordingSampler"


SAMPLER = RecordingSampler()


@pytest.fixture(scope="module")
def spans():
    """A run of every operation of every provider, content capture on."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_aitracer.demo.fake_openai import FakeOpenAIServer

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=SAMPLER)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor(), GoogleGenAIInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        with FakeOpenAIServer() as o, FakeAnthropicServer() as a, FakeGeminiServer() as g:
            _openai_calls(openai.OpenAI(api_key="k", base_url=o.base_url, max_retries=0))
            _anthropic_calls(anthropic.Anthropic(api_key="k", base_url=a.base_url, max_retries=0, open_telemetry=False))
            gemini = genai.Client(api_key="k", http_options={"base_url": g.base_url})
            _gemini_calls(gemini)
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()
    return exporter.get_finished_spans()


def _openai_calls(client: openai.OpenAI) -> None:
    user = [{"role": "system", "content": "terse"}, {"role": "user", "content": "hi"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=user, temperature=0.1, n=2, stop="x", seed=1, response_format={"type": "json_object"})
    client.chat.completions.create(model="gpt-4o-mini", messages=user, tools=[TOOL])
    list(client.chat.completions.create(model="gpt-4o-mini", messages=user, stream=True, stream_options={"include_usage": True}))
    client.responses.create(model="gpt-4.1-mini", input="hi", instructions="terse", reasoning={"effort": "low"})
    list(client.responses.create(model="gpt-4.1-mini", input="hi", stream=True))
    client.embeddings.create(model="text-embedding-3-small", input="hi", dimensions=8, encoding_format="float")
    with pytest.raises(openai.APIError):
        client.chat.completions.create(model="error-500", messages=user)


def _anthropic_calls(client: anthropic.Anthropic) -> None:
    user = [{"role": "user", "content": "hi"}]
    client.messages.create(model="claude-haiku-4-5", max_tokens=20, system="terse", messages=user, stop_sequences=["x"])
    list(client.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=user, stream=True, tools=[{"name": "t", "input_schema": {"type": "object"}}]))
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=20, messages=user) as stream:
        stream.until_done()


def _gemini_calls(client: genai.Client) -> None:
    client.models.generate_content(model="gemini-2.5-flash", contents="hi", config={"system_instruction": "terse", "temperature": 0.2, "response_mime_type": "application/json"})
    list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
    client.models.embed_content(model="text-embedding-004", contents="hi")
    asyncio.run(client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi"))


def test_every_operation_was_exercised(spans):
    seen = {(s.attributes["gen_ai.provider.name"], s.attributes["gen_ai.operation.name"]) for s in spans}
    assert seen == {("openai", "chat"), ("openai", "embeddings"), ("anthropic", "chat"), ("gcp.gemini", "generate_content"), ("gcp.gemini", "embeddings")}


def test_every_gen_ai_attribute_name_is_defined(spans):
    emitted = {key for s in spans for key in s.attributes if key.startswith(("gen_ai.", "openai."))}
    assert emitted - KNOWN_KEYS == set()
    assert len(emitted) >= 25  # the check covered a real variety


def test_enum_values_are_the_conventions(spans):
    for span in spans:
        attrs = span.attributes
        assert attrs["gen_ai.operation.name"] in OPERATIONS and attrs["gen_ai.provider.name"] in PROVIDERS
        assert span.name == f"{attrs['gen_ai.operation.name']} {attrs['gen_ai.request.model']}"
        assert set(attrs.get("gen_ai.response.finish_reasons", ())) <= FINISH_REASONS
        if "gen_ai.output.type" in attrs:
            assert attrs["gen_ai.output.type"] in {m.value for m in GenAI.GenAiOutputTypeValues}
        if "openai.api.type" in attrs:
            assert attrs["openai.api.type"] in {m.value for m in OpenAIAttr.OpenaiApiTypeValues}


def test_content_attributes_follow_the_json_schemas(spans):
    checked = 0
    for span in spans:
        for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
            if key not in span.attributes:
                continue
            for message in json.loads(span.attributes[key]):
                assert message["role"] in ROLES and isinstance(message["parts"], list)
                assert all(part["type"] in PART_TYPES for part in message["parts"])
                if key == "gen_ai.output.messages":
                    assert message["finish_reason"] in FINISH_REASONS
                checked += 1
        if "gen_ai.system_instructions" in span.attributes:
            assert all(p["type"] == "text" for p in json.loads(span.attributes["gen_ai.system_instructions"]))
    assert checked >= 15


def test_sampling_attributes_are_set_at_span_start(spans):
    """The conventions ask for operation, provider, model and server at creation: a sampler sees only those."""
    assert len(SAMPLER.started) == len(spans)  # every started span, failed calls included
    for attributes in SAMPLER.started:
        assert {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "server.address", "server.port"} <= set(attributes)
