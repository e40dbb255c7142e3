"""Reading one LLM call out of span attributes, whichever instrumentation wrote them.

Spans arrive from our instrumentors, from the official OTel GenAI
instrumentations (current and deprecated conventions), from OpenLLMetry and
from OpenInference, through a collector or in process. Each reader here takes
the first key present, in the order ``shared/reference/peers.md`` §3.7 gives.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import orjson
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from instrumentors._genai import TOTAL_TOKENS

from .._attributes import MAX_METADATA_KEYS, METADATA_ATTRIBUTE, TAGS_ATTRIBUTE
from ._record import InvalidRecord

Attributes = Mapping[str, Any]

# OpenInference span kinds and OpenLLMetry request types -> GenAI operation names.
_OPENINFERENCE_KINDS = {"LLM": "chat", "EMBEDDING": "embeddings", "TOOL": "execute_tool", "AGENT": "invoke_agent"}
_LLM_REQUEST_TYPES = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings", "rerank": "rerank"}
_PROVIDERS = {
    "openai": "openai",
    "azure.ai.openai": "openai",
    "az.ai.openai": "openai",
    "anthropic": "anthropic",
    "gcp.gemini": "gemini",
    "gcp.vertex_ai": "gemini",
    "gcp.gen_ai": "gemini",
    "gemini": "gemini",
    "vertex_ai": "gemini",
    "google": "gemini",
}

INPUT_TOKEN_KEYS = (GenAI.GEN_AI_USAGE_INPUT_TOKENS, "llm.token_count.prompt", "gen_ai.usage.prompt_tokens")
OUTPUT_TOKEN_KEYS = (GenAI.GEN_AI_USAGE_OUTPUT_TOKENS, "llm.token_count.completion", "gen_ai.usage.completion_tokens")
CACHE_READ_KEYS = (
    GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_CREATION_KEYS = (
    "gen_ai.usage.cache_write.input_tokens",  # the conventions' name now; the older one below is still read
    GenAI.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
# What the provider itself says the call cost (OpenRouter's usage.cost through our instrumentor; OpenLLMetry,
# Langfuse; Logfire), in USD.
PROVIDER_COST_KEYS = ("gen_ai.usage.cost", "operation.cost")
SERVICE_TIER_KEYS = ("openai.response.service_tier", "openai.request.service_tier")
MODEL_KEYS = (
    GenAI.GEN_AI_RESPONSE_MODEL,
    GenAI.GEN_AI_REQUEST_MODEL,
    "llm.model_name",
    "llm.response.model_name",
    "llm.request.model_name",
)
# A total token count, where someone reported one: the provider (through our instrumentors), log(), OpenLLMetry, OpenInference.
TOTAL_KEYS = (TOTAL_TOKENS, "gen_ai.usage.total_tokens", "llm.token_count.total")  # ours (OpenLLMetry's name), Strands', OpenInference's
SESSION_KEYS = ("session.id", GenAI.GEN_AI_CONVERSATION_ID, "traceloop.association.properties.session_id")
USER_KEYS = ("user.id", "enduser.id", "traceloop.association.properties.user_id")


def first(attrs: Attributes, keys: Iterable[str]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def first_int(attrs: Attributes, keys: Iterable[str]) -> int | None:
    """Token counts arrive as ints, or as numeric strings through some collectors."""
    value = first(attrs, keys)
    if value is None or type(value) is int:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRecord(f"a token count is {value}")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def provider_cost(attrs: Attributes) -> float | None:
    """The cost the provider reported for the call: a finite non-negative number, else None."""
    for key in PROVIDER_COST_KEYS:
        value = attrs.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
            return float(value)
    return None


def operation(attrs: Attributes) -> str | None:
    """The GenAI operation a span stands for; ``None`` if it is not a GenAI span."""
    op = attrs.get(GenAI.GEN_AI_OPERATION_NAME)
    if op and not isinstance(op, str):
        raise InvalidRecord(f"{GenAI.GEN_AI_OPERATION_NAME} must be a string, got {type(op).__name__}")
    if op:
        return op
    kind = attrs.get("openinference.span.kind")
    if kind in _OPENINFERENCE_KINDS:
        return _OPENINFERENCE_KINDS[kind]
    request_type = attrs.get("llm.request.type")
    if request_type:
        return _LLM_REQUEST_TYPES.get(request_type, str(request_type))
    if attrs.get(GenAI.GEN_AI_SYSTEM) and first(attrs, MODEL_KEYS):
        return "chat"
    return None


def provider(attrs: Attributes) -> str:
    """``openai`` / ``anthropic`` / ``gemini`` / ``other``."""
    raw = first(attrs, (GenAI.GEN_AI_PROVIDER_NAME, GenAI.GEN_AI_SYSTEM, "llm.provider", "llm.system"))
    return _PROVIDERS.get(str(raw).lower(), "other") if raw else "other"


def json_value(raw: Any) -> Any:
    """Decode a JSON attribute; a value that is not JSON is kept as it is."""
    if isinstance(raw, (str, bytes)):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
    return raw


def input_messages(attrs: Attributes) -> list[dict[str, Any]] | None:
    """The request as ``[{role, content, ...}]``, system instructions first."""
    raw = attrs.get(GenAI.GEN_AI_INPUT_MESSAGES)
    if raw is not None:
        messages = [_simple_message(m) for m in _as_list(json_value(raw))]
        system = attrs.get(GenAI.GEN_AI_SYSTEM_INSTRUCTIONS)
        if system is not None:
            messages.insert(0, {"role": "system", "content": _text_of_parts(_as_list(json_value(system)))})
        return messages
    return _indexed_messages(attrs, "gen_ai.prompt.") or _openinference_messages(attrs, "llm.input_messages.")


def output_messages(attrs: Attributes) -> list[dict[str, Any]] | None:
    raw = attrs.get(GenAI.GEN_AI_OUTPUT_MESSAGES)
    if raw is not None:
        return [_simple_message(m) for m in _as_list(json_value(raw))]
    return _indexed_messages(attrs, "gen_ai.completion.") or _openinference_messages(attrs, "llm.output_messages.")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else ([] if value is None else [value])


def _text_of_parts(parts: list[Any]) -> str:
    return "".join(p.get("content", "") for p in parts if isinstance(p, dict) and p.get("type") == "text")


def _simple_message(message: Any) -> dict[str, Any]:
    """A conventions message (role + typed parts) in the chat shape AITracer shows. This runs for every message of
    every call, and most messages are one text part: that case reads its part and nothing else."""
    if not isinstance(message, dict):
        return {"role": "user", "content": message}
    parts = message.get("parts")
    if type(parts) is list and len(parts) == 1 and type(part := parts[0]) is dict and part.get("type") == "text" and type(text := part.get("content", "")) is str:
        out: dict[str, Any] = {"role": message.get("role", "user"), "content": text or None}
    else:
        out = _parts_message(message, parts)
    if message.get("finish_reason"):
        out["finish_reason"] = message["finish_reason"]
    if message.get("name"):
        out["name"] = message["name"]
    return out


def _parts_message(message: dict[str, Any], parts: Any) -> dict[str, Any]:
    """A message of any parts, in one pass over them: texts joined, tool calls and their responses, other parts kept."""
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    response: dict[str, Any] | None = None
    for part in _as_list(parts):
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(part.get("content", ""))
        elif kind == "tool_call":
            tool_calls.append({"id": part.get("id"), "name": part.get("name"), "arguments": part.get("arguments")})
        elif kind == "tool_call_response":
            response = part  # the last one answers
        else:
            others.append(part)
    out: dict[str, Any] = {"role": message.get("role", "user"), "content": "".join(texts) or None}
    if tool_calls:
        out["tool_calls"] = tool_calls
    if response is not None:
        out["tool_call_id"] = response.get("id")
        out["content"] = response["response"] if "response" in response else response.get("result")  # Pydantic AI writes "result"
    if others:
        out["parts"] = others
    return out


def _indexed(attrs: Attributes, prefix: str) -> dict[int, dict[str, Any]]:
    """``prefix.{i}.rest`` keys grouped by integer index (gaps are dropped attributes)."""
    grouped: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if key.startswith(prefix):
            index, _, rest = key[len(prefix) :].partition(".")
            if index.isdigit() and rest:
                grouped.setdefault(int(index), {})[rest] = value
    return grouped


def _indexed_messages(attrs: Attributes, prefix: str) -> list[dict[str, Any]] | None:
    """OpenLLMetry <= 0.54 and the old GenAI conventions: ``gen_ai.prompt.{i}.role/content``."""
    grouped = _indexed(attrs, prefix)
    messages = []
    for _, fields in sorted(grouped.items()):
        message = {"role": fields.get("role", "user"), "content": fields.get("content")}
        if fields.get("finish_reason"):
            message["finish_reason"] = fields["finish_reason"]
        calls = _indexed(fields, "tool_calls.")
        if calls:
            message["tool_calls"] = [{"id": c.get("id"), "name": c.get("name"), "arguments": c.get("arguments")} for _, c in sorted(calls.items())]
        if fields.get("tool_call_id"):
            message["tool_call_id"] = fields["tool_call_id"]
        messages.append(message)
    return messages or None


def _openinference_messages(attrs: Attributes, prefix: str) -> list[dict[str, Any]] | None:
    """OpenInference: ``llm.input_messages.{i}.message.role/content``."""
    grouped = _indexed(attrs, prefix)
    messages = []
    for _, fields in sorted(grouped.items()):
        message = {"role": fields.get("message.role", "user"), "content": fields.get("message.content")}
        calls = _indexed(fields, "message.tool_calls.")
        if calls:
            message["tool_calls"] = [
                {"id": c.get("tool_call.id"), "name": c.get("tool_call.function.name"), "arguments": c.get("tool_call.function.arguments")}
                for _, c in sorted(calls.items())
            ]
        messages.append(message)
    return messages or None


def metadata(attrs: Attributes) -> dict[str, Any]:
    """The span's metadata (OpenLLMetry's ``metadata`` and ours, merged), at most :data:`MAX_METADATA_KEYS` keys."""
    merged: dict[str, Any] = {}
    for key in ("metadata", METADATA_ATTRIBUTE):
        raw = attrs.get(key)
        value = json_value(raw) if raw is not None else None
        if isinstance(value, dict):
            merged.update(value)
    return merged if len(merged) <= MAX_METADATA_KEYS else dict(list(merged.items())[:MAX_METADATA_KEYS])


def tags(attrs: Attributes) -> list[str]:
    found: list[str] = []
    for key in (TAGS_ATTRIBUTE, "tag.tags"):
        value = attrs.get(key)
        for tag in (json_value(value) if isinstance(value, str) else value) or ():
            if str(tag) not in found:
                found.append(str(tag))
    return found
