"""Real recorded provider traffic through our instrumentors, every span checked against the GenAI conventions.

Each cassette the official OTel GenAI instrumentations ship in their source distributions (269 real exchanges
with OpenAI, Anthropic, Gemini; fetched by :mod:`tests.recorded_traffic`) is replayed through the real SDK with content capture on, and each
call's span must follow the conventions: span name, required and conditionally required attributes, enum
values, and content that passes the conventions' JSON schemas (:mod:`tests.genai_schema`).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import StatusCode

from instrumentors.anthropic import AnthropicInstrumentor
from instrumentors.google_genai import GoogleGenAIInstrumentor
from instrumentors.openai import OpenAIInstrumentor

from . import genai_schema
from .recorded_traffic import Exchange, ReplayServer, call_anthropic, call_anthropic_helper, call_gemini, call_openai, cassettes, consume, exchanges

OPERATIONS = {m.value for m in GenAI.GenAiOperationNameValues} | {"fetch_response"}
PROVIDERS = {m.value for m in GenAI.GenAiProviderNameValues}
OUTPUT_TYPES = {m.value for m in GenAI.GenAiOutputTypeValues}
# Not replayed, and why: Vertex AI needs Google credentials the SDK checks before any request.
SKIPPED = {"vertexai"}


@pytest.fixture(scope="module")
def replay():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor(), GoogleGenAIInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider, capture_content=True)
    server = ReplayServer()
    clients = {
        "openai": (openai.OpenAI(api_key="k", base_url=server.url + "/v1", max_retries=0), call_openai),
        "anthropic": (anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0, open_telemetry=False), call_anthropic),
        "google_genai": (genai.Client(api_key="k", http_options={"base_url": server.url, "retry_options": None}), call_gemini),
    }
    yield server, exporter, clients
    server.close()
    for instrumentor in instrumentors:
        instrumentor.uninstrument()


def _run(replay: Any, provider: str, exchange: Exchange, call: Any = None) -> tuple[list[ReadableSpan], BaseException | None]:
    server, exporter, clients = replay
    client, call = clients[provider][0], call or clients[provider][1]
    exporter.clear()
    server.queue[:] = [exchange]
    error = None
    try:
        consume(call(client, exchange))
    except Exception as exc:  # a recorded error answer: the SDK raises, as it would for the app
        error = exc
    return [s for s in exporter.get_finished_spans() if "gen_ai.operation.name" in (s.attributes or {})], error


CASES = [pytest.param(provider, path, id=f"{provider}/{path.stem}") for provider in ("openai", "anthropic", "google_genai")
         for path in cassettes(provider) if not any(word in path.stem for word in SKIPPED)]  # fmt: skip


@pytest.mark.parametrize(("provider", "path"), CASES)
def test_recorded_exchange_follows_the_conventions(replay, provider, path):
    findings = []
    for n, exchange in enumerate(exchanges(path)):
        if "vertexai" in exchange.path or "/projects/" in exchange.path:
            continue
        spans, error = _run(replay, provider, exchange)
        findings += [f"#{n} {exchange.method} {exchange.path}: {f}" for f in _findings(exchange, spans, error)]
        if provider == "anthropic" and exchange.streamed:
            spans, error = _run(replay, provider, exchange, call_anthropic_helper)  # the same stream through messages.stream()
            findings += [f"#{n} messages.stream(): {f}" for f in _findings(exchange, spans, error)]
    assert findings == []


def _findings(exchange: Exchange, spans: list[ReadableSpan], error: BaseException | None) -> list[str]:
    if len(spans) != 1:
        return [f"{len(spans)} GenAI spans for one call (error: {error!r})"]
    span = spans[0]
    attrs = dict(span.attributes or {})
    found: list[str] = []
    operation, model = attrs.get("gen_ai.operation.name"), attrs.get("gen_ai.request.model")
    if operation not in OPERATIONS:
        found.append(f"operation {operation!r}")
    if attrs.get("gen_ai.provider.name") not in PROVIDERS:
        found.append(f"provider {attrs.get('gen_ai.provider.name')!r}")
    if span.name != (operation if operation == "fetch_response" else f"{operation} {model}"):
        found.append(f"span name {span.name!r}")
    if operation == "fetch_response":  # the fetch reports no usage, and a failed generation fetched is no failed call
        found += [f"{key} on a fetch_response" for key in attrs if key.startswith("gen_ai.usage.")]
        if exchange.status == 200 and span.status.status_code is StatusCode.ERROR and error is None:
            found.append("a successful fetch marked ERROR")
    if exchange.streamed and exchange.status == 200 and attrs.get("gen_ai.request.stream") is not True:
        found.append("gen_ai.request.stream missing on a streamed call")
    if exchange.streamed and exchange.status == 200 and error is None and "gen_ai.response.time_to_first_chunk" not in attrs:
        found.append("gen_ai.response.time_to_first_chunk missing on a streamed call")
    if exchange.status == 200 and error is None and operation != "embeddings":
        answer = exchange.answer if isinstance(exchange.answer, dict) else {}
        if "gen_ai.response.finish_reasons" not in attrs:
            found.append("a completed call without gen_ai.response.finish_reasons")
        if (answer.get("id") or answer.get("responseId")) and "gen_ai.response.id" not in attrs:
            found.append("the answer has an id but gen_ai.response.id is missing")
    if not exchange.streamed and "gen_ai.request.stream" in attrs:
        found.append("gen_ai.request.stream on a call that did not stream")
    wanted = _requested_output_type(exchange.body or {})
    if wanted is not None and attrs.get("gen_ai.output.type") != wanted:
        found.append(f"gen_ai.output.type {attrs.get('gen_ai.output.type')!r}, the request asked for {wanted!r}")
    if "gen_ai.output.type" in attrs and attrs["gen_ai.output.type"] not in OUTPUT_TYPES:
        found.append(f"gen_ai.output.type {attrs['gen_ai.output.type']!r}")
    for key in ("gen_ai.response.id", "gen_ai.response.model"):
        if key in attrs and (not isinstance(attrs[key], str) or not attrs[key]):
            found.append(f"{key} {attrs[key]!r}")
    asked = {**((exchange.body or {}).get("generationConfig") or {}), **(exchange.body or {})}
    for param, key in (("temperature", "gen_ai.request.temperature"), ("top_p", "gen_ai.request.top_p"), ("topP", "gen_ai.request.top_p"),
                       ("top_k", "gen_ai.request.top_k"), ("topK", "gen_ai.request.top_k"), ("seed", "gen_ai.request.seed"),
                       ("frequency_penalty", "gen_ai.request.frequency_penalty"), ("presence_penalty", "gen_ai.request.presence_penalty")):  # fmt: skip
        if isinstance(asked.get(param), (int, float)) and attrs.get(key) != asked[param]:
            found.append(f"{param}={asked[param]} asked, {key} {attrs.get(key)!r}")
    if (exchange.body or {}).get("tools") and attrs.get("gen_ai.operation.name") != "fetch_response":
        definitions = json.loads(attrs.get("gen_ai.tool.definitions", "null"))
        if not isinstance(definitions, list) or not definitions:
            found.append("the request defines tools but gen_ai.tool.definitions is missing")
        elif not all(isinstance(d.get("type"), str) and isinstance(d.get("name"), str) for d in definitions):
            found.append(f"tool definitions without type and name: {definitions}")
    if "gen_ai.usage.cache_creation.input_tokens" in attrs:
        found.append("the old name gen_ai.usage.cache_creation.input_tokens (now gen_ai.usage.cache_write.input_tokens)")
    reasons = set(attrs.get("gen_ai.response.finish_reasons") or ())
    if reasons - set(genai_schema.FINISH_REASONS):
        found.append(f"finish reasons {sorted(reasons)} outside {genai_schema.FINISH_REASONS}")
    for key in ("input.messages", "output.messages", "system_instructions"):
        if f"gen_ai.{key}" in attrs:
            content = json.loads(attrs[f"gen_ai.{key}"])
            found += genai_schema.problems(key, content)
            parts = content if key == "system_instructions" else [p for m in content for p in m.get("parts") or ()]
            found += [f"{key}: a {p.get('type')!r} part, not one the conventions define" for p in parts if p.get("type") not in genai_schema.PARTS]
    if exchange.status >= 400:
        if span.status.status_code is not StatusCode.ERROR or "error.type" not in attrs:
            found.append("a failed call without ERROR status and error.type")
    elif error is None:
        found += _usage_findings(exchange, attrs) + _openai_response_findings(exchange, attrs) + _responses_item_findings(exchange, attrs)
        found += _refusal_findings(exchange, attrs)
    return found


_TURNS = {"message", "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output", "computer_call", "computer_call_output"}
_CLIENT_CALLS = {"function_call", "custom_tool_call", "computer_call"}


def _refusal_findings(exchange: Exchange, attrs: dict[str, Any]) -> list[str]:
    """A chat refusal (whole, or streamed in deltas) is the output message's text."""
    answer = exchange.answer if isinstance(exchange.answer, dict) else {}
    refusals = [c["message"]["refusal"] for c in answer.get("choices") or [] if (c.get("message") or {}).get("refusal")]
    refusals += ["".join(re.findall(r'"refusal":\s*"([^"]*)"', exchange.response))] if answer == {} and '"refusal":"' in exchange.response.replace(" ", "") else []
    texts = [p.get("content", "") for m in json.loads(attrs.get("gen_ai.output.messages", "[]")) for p in m["parts"] if p["type"] == "text"]
    return [f"refusal {r[:40]!r} missing from the output" for r in refusals if r and not any(r in t for t in texts)]


def _responses_item_findings(exchange: Exchange, attrs: dict[str, Any]) -> list[str]:
    """No Responses item is lost: every input turn is a message, every output call a part, a compaction is said."""
    if exchange.method != "POST" or not exchange.path.endswith("/responses"):
        return []
    found = []
    items = (exchange.body or {}).get("input")
    if isinstance(items, list) and "gen_ai.input.messages" in attrs:
        turns = [i for i in items if i.get("type", "message") in _TURNS]
        if len(json.loads(attrs["gen_ai.input.messages"])) < len(turns):
            found.append(f"input items {[i.get('type', 'message') for i in turns]} but {len(json.loads(attrs['gen_ai.input.messages']))} input messages")
    answer = exchange.answer if isinstance(exchange.answer, dict) else {}
    if answer.get("output") and "gen_ai.output.messages" in attrs:
        parts = [part for message in json.loads(attrs["gen_ai.output.messages"]) for part in message["parts"]]
        for item in answer["output"]:
            kind = item.get("type")
            if kind in _CLIENT_CALLS and not any(p["type"] == "tool_call" and p.get("id") == item.get("call_id") for p in parts):
                found.append(f"output {kind} {item.get('call_id')} is not a tool_call part")
            elif kind.endswith("_call") and kind not in _CLIENT_CALLS and not any(p["type"] == "server_tool_call" for p in parts):
                found.append(f"output {kind} is not a server_tool_call part")
            elif kind == "compaction" and attrs.get("gen_ai.conversation.compacted") is not True:
                found.append("a compaction without gen_ai.conversation.compacted")
    return found


def _openai_response_findings(exchange: Exchange, attrs: dict[str, Any]) -> list[str]:
    """The service tier and system fingerprint the answer names (in any chunk of a stream) are on the span."""
    found = []
    if attrs.get("gen_ai.provider.name") != "openai" or attrs.get("gen_ai.operation.name") == "embeddings":
        return found
    for field in ("service_tier", "system_fingerprint"):
        named = re.findall(rf'"{field}":\s*"([^"]+)"', exchange.response)
        if named and attrs.get(f"openai.response.{field}") != named[-1]:
            found.append(f"openai.response.{field} {attrs.get(f'openai.response.{field}')!r}, the answer says {named[-1]!r}")
    return found


def _usage_findings(exchange: Exchange, attrs: dict[str, Any]) -> list[str]:
    answer = exchange.answer if isinstance(exchange.answer, dict) else {}
    found = []
    usage = answer.get("usage") or answer.get("usageMetadata")
    if usage and "gen_ai.usage.input_tokens" not in attrs and not str(exchange.path).endswith(tuple(f"/responses/{x}" for x in ("",))):
        if attrs.get("gen_ai.operation.name") != "fetch_response":
            found.append("usage reported by the provider but gen_ai.usage.input_tokens missing")
    for detail in (usage or {}).get("promptTokensDetails") or []:
        key = f"gen_ai.usage.{detail.get('modality', '').lower()}.input_tokens"
        if attrs.get(key) != detail.get("tokenCount"):
            found.append(f"{key} {attrs.get(key)!r}, the provider says {detail.get('tokenCount')}")
    reasoning = [int(n) for n in re.findall(r'"(?:thinking|reasoning)_tokens":\s*(\d+)', json.dumps(usage or {}))]
    if reasoning and reasoning[0] and attrs.get("gen_ai.usage.reasoning.output_tokens") != reasoning[0]:
        found.append(f"reasoning tokens {reasoning[0]} reported, gen_ai.usage.reasoning.output_tokens {attrs.get('gen_ai.usage.reasoning.output_tokens')!r}")
    vectors = [d.get("embedding") for d in answer.get("data") or []] + [e.get("values") for e in answer.get("embeddings") or []]
    vectors = [v for v in vectors if isinstance(v, list)]
    if vectors and attrs.get("gen_ai.embeddings.dimension.count") != len(vectors[0]):
        found.append(f"gen_ai.embeddings.dimension.count {attrs.get('gen_ai.embeddings.dimension.count')!r}, vectors have {len(vectors[0])}")
    return found


def _requested_output_type(body: dict[str, Any]) -> str | None:
    """What output format the request asks for, in the conventions' values (None: it asks for none)."""
    formats = [
        (body.get("response_format") or {}).get("type"),  # OpenAI chat
        ((body.get("text") or {}).get("format") or {}).get("type") if isinstance(body.get("text"), dict) else None,  # Responses
        ((body.get("output_config") or {}).get("format") or {}).get("type"),  # Anthropic
        (body.get("output_format") or {}).get("type") if isinstance(body.get("output_format"), dict) else None,
        (body.get("generationConfig") or {}).get("responseMimeType"),  # Gemini
    ]
    for given in formats:
        if given in ("json_object", "json_schema", "application/json"):
            return "json"
        if given in ("text", "text/plain"):
            return "text"
    return None


_PRICES_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "google_genai": "google"}


@pytest.mark.parametrize(("provider", "path"), CASES)
def test_recorded_calls_cost_what_genai_prices_says(replay, provider, path):
    """Honest cost (SPEC §4): each record's cost is genai-prices' price of genai-prices' own reading of the recorded
    answer's usage (cache reads and writes inside input, reasoning inside output, each token priced once) at the
    answer's service tier."""
    import genai_prices

    from otel_aitracer._recording._mapping import span_to_record

    checked = []
    for exchange in exchanges(path):
        answer = exchange.answer
        if exchange.status != 200 or not isinstance(answer, dict) or exchange.method != "POST":
            continue
        flavor = "responses" if exchange.path.endswith("/responses") else "embeddings" if "mbed" in exchange.path else "default"
        try:
            extracted = genai_prices.extract_usage(answer, provider_id=_PRICES_PROVIDER[provider], api_flavor=flavor)
        except (LookupError, ValueError, TypeError, AttributeError):
            continue  # an answer genai-prices cannot read (an interaction, a tool loop's partial answer)
        spans, error = _run(replay, provider, exchange)
        record = span_to_record(spans[0]) if len(spans) == 1 and error is None else None
        if record is None or extracted.model is None:
            continue
        tier = answer.get("service_tier") if isinstance(answer.get("service_tier"), str) else None
        expected = genai_prices.calc_price(extracted.usage, extracted.model.id, provider_id=_PRICES_PROVIDER[provider],
                                           genai_request_timestamp=datetime.fromisoformat(record["started_at"].replace("Z", "+00:00")),
                                           price_context={"service_tier": tier} if tier else None)  # fmt: skip
        checked.append((record.get("cost"), float(expected.total_price), record.get("cost_source")))
    for cost, expected, source in checked:
        assert cost == pytest.approx(expected, rel=1e-9, abs=1e-12) and source == "local"


def _recorded_chat(provider_edit: dict[str, Any]) -> Exchange:
    """A recorded chat answer with ``provider_edit`` applied to its JSON (what another tier or a gateway returns)."""
    [exchange] = [e for p in cassettes("openai") if p.stem == "test_chat_completion_with_content" for e in exchanges(p)]
    answer = exchange.answer
    for key, value in provider_edit.items():
        target = answer
        *path, last = key.split(".")
        for part in path:
            target = target[part]
        target[last] = value
    exchange.response = json.dumps(answer)
    return exchange


def test_a_cost_the_provider_reports_is_the_records_cost(replay):
    from otel_aitracer._recording._mapping import span_to_record

    spans, error = _run(replay, "openai", _recorded_chat({"usage.cost": 0.0123}))  # OpenRouter reports usage.cost
    assert error is None and spans[0].attributes["gen_ai.usage.cost"] == 0.0123
    record = span_to_record(spans[0])
    assert (record["cost"], record["cost_source"]) == (0.0123, "provider")


def test_the_service_tier_prices_the_call(replay):
    import genai_prices

    from otel_aitracer._recording._mapping import span_to_record

    costs = {}
    for tier in ("default", "priority"):
        spans, error = _run(replay, "openai", _recorded_chat({"service_tier": tier}))
        record = span_to_record(spans[0])
        usage = genai_prices.Usage(input_tokens=record["input_tokens"], output_tokens=record["output_tokens"])
        expected = genai_prices.calc_price(usage, record["model"], provider_id="openai", price_context={"service_tier": tier})
        assert record["cost"] == pytest.approx(float(expected.total_price)) and record["cost_source"] == "local"
        costs[tier] = record["cost"]
    assert costs["priority"] > costs["default"] > 0  # the tier's price, not the default one
