"""gen_ai.client.operation.duration and gen_ai.client.token.usage from every instrumentor, on the real metrics SDK."""

from __future__ import annotations

import anthropic
import pytest
from google import genai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from instrumentors.anthropic import AnthropicInstrumentor
from instrumentors.google_genai import GoogleGenAIInstrumentor
from instrumentors.openai import OpenAIInstrumentor
from otel_aitracer.demo.fake_anthropic import FakeAnthropicServer
from otel_aitracer.demo.fake_gemini import FakeGeminiServer

DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)


@pytest.fixture
def reader():
    return InMemoryMetricReader()


@pytest.fixture
def meters(reader):
    return MeterProvider(metric_readers=[reader])


def points(reader) -> dict[str, list]:
    found: dict[str, list] = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def test_openai_call_records_duration_and_tokens_with_the_conventions_buckets(tracer_provider, meters, reader, client):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meters)
    try:
        response = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(Exception):
            client.chat.completions.create(model="error-429", messages=[{"role": "user", "content": "hi"}])
    finally:
        instrumentor.uninstrument()
    data = points(reader)
    ok, failed = sorted(data["gen_ai.client.operation.duration"], key=lambda p: "error.type" in p.attributes)
    assert tuple(ok.explicit_bounds) == DURATION_BUCKETS and ok.count == 1 and ok.sum > 0
    assert dict(ok.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": response.model,
        "server.address": "127.0.0.1",
        "server.port": client.base_url.port,
        "openai.response.service_tier": response.service_tier,  # the conventions' OpenAI metric attributes
        "openai.response.system_fingerprint": response.system_fingerprint,
    }
    assert failed.attributes["error.type"] == "RateLimitError" and "gen_ai.response.model" not in failed.attributes
    tokens = {p.attributes["gen_ai.token.type"]: p for p in data["gen_ai.client.token.usage"]}
    assert tokens["input"].sum == response.usage.prompt_tokens and tokens["output"].sum == response.usage.completion_tokens
    assert tuple(tokens["input"].explicit_bounds) == TOKEN_BUCKETS


def test_streams_record_when_the_stream_ends(tracer_provider, meters, reader, client):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meters)
    try:
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True})
        assert "gen_ai.client.operation.duration" not in points(reader)
        usage = [c.usage for c in stream if c.usage][0]
    finally:
        instrumentor.uninstrument()
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in points(reader)["gen_ai.client.token.usage"]}
    assert tokens == {"input": usage.prompt_tokens, "output": usage.completion_tokens}


def test_streams_record_time_to_first_chunk_and_time_per_output_chunk(tracer_provider, meters, reader, client):
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meters)
    try:
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True))
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])  # not a stream: no point
    finally:
        instrumentor.uninstrument()
    data = points(reader)
    [first] = data["gen_ai.client.operation.time_to_first_chunk"]
    [per_chunk] = data["gen_ai.client.operation.time_per_output_chunk"]  # one point per stream: the mean interval
    assert len(chunks) > 2 and first.count == 1 and per_chunk.count == 1 and 0 <= per_chunk.sum <= first.sum + 1
    assert tuple(first.explicit_bounds) == DURATION_BUCKETS and first.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    duration = data["gen_ai.client.operation.duration"]
    assert dict(first.attributes) == dict(per_chunk.attributes) and dict(first.attributes) in [dict(p.attributes) for p in duration]


def test_a_failed_call_emits_the_exception_event_in_its_span(tracer_provider, span_exporter, client):
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    logs = InMemoryLogRecordExporter()
    loggers = LoggerProvider()
    loggers.add_log_record_processor(SimpleLogRecordProcessor(logs))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, logger_provider=loggers)
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(Exception):
            client.chat.completions.create(model="error-429", messages=[{"role": "user", "content": "hi"}])
    finally:
        instrumentor.uninstrument()
    [event] = [e.log_record for e in logs.get_finished_logs()]  # the successful call emits none
    [failed] = [s for s in span_exporter.get_finished_spans() if s.attributes.get("error.type")]
    assert event.event_name == "gen_ai.client.operation.exception" and event.severity_text == "WARN"
    assert (event.trace_id, event.span_id) == (failed.context.trace_id, failed.context.span_id)
    assert event.attributes["error.type"] == event.attributes["exception.type"] == "RateLimitError"
    assert event.attributes["gen_ai.request.model"] == "error-429" and event.attributes["gen_ai.provider.name"] == "openai"


def test_anthropic_and_gemini_record_on_their_meter(tracer_provider, meters, reader):
    anthropic_instrumentor, gemini_instrumentor = AnthropicInstrumentor(), GoogleGenAIInstrumentor()
    anthropic_instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meters)
    gemini_instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meters)
    try:
        with FakeAnthropicServer() as a, FakeGeminiServer() as g:
            claude = anthropic.Anthropic(api_key="k", base_url=a.base_url, max_retries=0, open_telemetry=False)
            claude.messages.create(model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
            gemini = genai.Client(api_key="k", http_options={"base_url": g.base_url})  # kept: a dropped Client closes its transport
            gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
    finally:
        anthropic_instrumentor.uninstrument()
        gemini_instrumentor.uninstrument()
    providers = {p.attributes["gen_ai.provider.name"]: p.attributes["gen_ai.operation.name"] for p in points(reader)["gen_ai.client.operation.duration"]}
    assert providers == {"anthropic": "chat", "gcp.gemini": "generate_content"}
    assert len(points(reader)["gen_ai.client.token.usage"]) == 4


def test_a_global_meter_provider_set_after_instrument_gets_the_points(fake_openai):
    """Without meter_provider=, the global one is used, even one the app installs later."""
    from .helpers import run_python

    result = run_python(
        f"""
        import openai
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from instrumentors.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
        client = openai.OpenAI(api_key="k", base_url={fake_openai.base_url!r}, max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "before"}}])
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "after"}}])
        data = reader.get_metrics_data()
        names = sorted(m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)
        counts = [p.count for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
                  if m.name == "gen_ai.client.operation.duration" for p in m.data.data_points]
        print(names, counts)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['gen_ai.client.operation.duration', 'gen_ai.client.token.usage'] [1]"
