"""google-genai ``generate_content`` / ``embed_content``: requests, responses and stream chunks as GenAI attributes."""

from __future__ import annotations

import re
from typing import Any, Mapping

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv.attributes import server_attributes

from .._genai import (
    TOOL_DEFINITIONS,
    UNFINISHED,
    CallStreamRecorder,
    LLMCall,
    as_dict,
    builtin_tool,
    function_definition,
    given,
    media_part,
    modality_usage,
    output_type,
    server_tool_call,
    server_tool_response,
    to_json,
    usage_attributes,
)

GENERATE = GenAI.GenAiOperationNameValues.GENERATE_CONTENT.value
EMBEDDINGS = GenAI.GenAiOperationNameValues.EMBEDDINGS.value
GEMINI = GenAI.GenAiProviderNameValues.GCP_GEMINI.value
VERTEX = GenAI.GenAiProviderNameValues.GCP_VERTEX_AI.value

_FINISH_REASONS = {
    "STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter", "MALFORMED_FUNCTION_CALL": "error",
}  # fmt: skip
_CONFIG_PARAMS = {
    "temperature": GenAI.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": GenAI.GEN_AI_REQUEST_TOP_P,
    "top_k": GenAI.GEN_AI_REQUEST_TOP_K,
    "max_output_tokens": GenAI.GEN_AI_REQUEST_MAX_TOKENS,
    "seed": GenAI.GEN_AI_REQUEST_SEED,
    "presence_penalty": GenAI.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "frequency_penalty": GenAI.GEN_AI_REQUEST_FREQUENCY_PENALTY,
}


def provider_and_server(instance: Any) -> dict[str, Any]:
    """``gcp.vertex_ai`` for a Vertex client, ``gcp.gemini`` otherwise, and the endpoint's host."""
    api = getattr(instance, "_api_client", None)
    attrs: dict[str, Any] = {GenAI.GEN_AI_PROVIDER_NAME: VERTEX if getattr(api, "vertexai", False) else GEMINI}
    base = str(getattr(getattr(api, "_http_options", None), "base_url", "") or "")
    if "://" in base:
        host_port = base.split("://", 1)[1].split("/", 1)[0]
        host, _, port = host_port.partition(":")
        attrs[server_attributes.SERVER_ADDRESS] = host
        attrs[server_attributes.SERVER_PORT] = int(port) if port.isdigit() else (443 if base.startswith("https") else 80)
    return attrs


def model_name(model: Any) -> str | None:
    return str(model).removeprefix("models/") if given(model) else None


def request_attributes(instance: Any, kwargs: Mapping[str, Any], capture: bool, stream: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: GENERATE, **provider_and_server(instance)}
    model = model_name(kwargs.get("model"))
    if model:
        attrs[GenAI.GEN_AI_REQUEST_MODEL] = model
    config = as_dict(kwargs.get("config"))
    for param, key in _CONFIG_PARAMS.items():
        if config.get(param) is not None:
            attrs[key] = config[param]
    if config.get("stop_sequences"):
        attrs[GenAI.GEN_AI_REQUEST_STOP_SEQUENCES] = list(config["stop_sequences"])
    if (config.get("candidate_count") or 1) != 1:
        attrs[GenAI.GEN_AI_REQUEST_CHOICE_COUNT] = config["candidate_count"]
    asked = output_type(config.get("response_mime_type")) or ("json" if config.get("response_schema") or config.get("response_json_schema") else None)
    if asked:
        attrs[GenAI.GEN_AI_OUTPUT_TYPE] = asked
    if stream:
        attrs[GenAI.GEN_AI_REQUEST_STREAM] = True
    if capture:
        attrs[GenAI.GEN_AI_INPUT_MESSAGES] = to_json(input_messages(kwargs.get("contents")))
        definitions = [d for tool in config.get("tools") or () for d in _tool_definitions(tool)]
        if definitions:
            attrs[TOOL_DEFINITIONS] = to_json(definitions)
        system = config.get("system_instruction")
        if system is not None:
            attrs[GenAI.GEN_AI_SYSTEM_INSTRUCTIONS] = to_json([p for p in _parts(system) if p.get("type") == "text"])
    return attrs


def input_messages(contents: Any) -> list[dict[str, Any]]:
    """``contents`` in any of the forms the SDK accepts: a string, parts, contents, or a list of those."""
    if contents is None:
        return []
    items = contents if isinstance(contents, list) else [contents]
    messages: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []  # bare strings and parts form one user turn, as the SDK sends them
    for item in items:
        data = as_dict(item)
        if "parts" in data or "role" in data:
            if loose:
                messages.append({"role": "user", "parts": loose})
                loose = []
            messages.append({"role": _role(data.get("role")), "parts": _parts(data)})
        else:
            loose.extend(_parts(item))
    if loose:
        messages.append({"role": "user", "parts": loose})
    return messages


def _role(role: Any) -> str:
    return "assistant" if role == "model" else (role or "user")


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    data = as_dict(content)
    if "parts" in data:
        return [_part(p) for p in data.get("parts") or ()]
    return [_part(content)]


def _part(part: Any) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "content": part}
    p = _snake_case(part) if isinstance(part, Mapping) else as_dict(part)
    if p.get("thought") and p.get("text") is not None:
        return {"type": "reasoning", "content": p["text"]}
    if p.get("text") is not None:
        return {"type": "text", "content": p["text"]}
    call = as_dict(p.get("function_call"))
    if call:
        return {"type": "tool_call", "id": call.get("id"), "name": call.get("name"), "arguments": call.get("args")}
    result = as_dict(p.get("function_response"))
    if result:
        return {"type": "tool_call_response", "id": result.get("id"), "response": result.get("response")}
    blob = as_dict(p.get("inline_data"))
    if blob:
        return media_part(data=blob.get("data"), mime_type=blob.get("mime_type"))
    file = as_dict(p.get("file_data"))
    if file:
        return media_part(url=file.get("file_uri"), mime_type=file.get("mime_type"))
    code = as_dict(p.get("executable_code"))
    if code:  # code the model runs with Gemini's own code execution tool
        return server_tool_call(code.get("id"), "code_execution", {"language": code.get("language"), "code": code.get("code")})
    ran = as_dict(p.get("code_execution_result"))
    if ran:
        return server_tool_response(ran.get("id"), "code_execution", {"outcome": ran.get("outcome"), "output": ran.get("output")})
    return {"type": "unknown"}


def _snake_case(part: Mapping[str, Any]) -> dict[str, Any]:
    """A part given as a plain dict may use the REST API's camelCase names (``inlineData``); the SDK takes both."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): _snake_case(value) if isinstance(value, Mapping) else value for key, value in part.items()}


def finish_reason(reason: Any, default: str = "error") -> str:
    if reason is None:
        return default
    name = getattr(reason, "name", None) or str(reason)
    return _FINISH_REASONS.get(name, name.lower())


def _tool_definitions(tool: Any) -> list[dict[str, Any]]:
    """A ``Tool``'s function declarations, each a function; a built-in tool (search, code execution) by its name."""
    if callable(tool) and not isinstance(tool, Mapping):  # a Python function the SDK calls itself
        return [function_definition(getattr(tool, "__name__", "function"), (getattr(tool, "__doc__", None) or "").strip() or None)]
    data = _snake_case(tool) if isinstance(tool, Mapping) else as_dict(tool)
    functions = [function_definition(f.get("name"), f.get("description"), f.get("parameters") or f.get("parameters_json_schema"))
                 for f in (as_dict(f) for f in data.get("function_declarations") or ())]  # fmt: skip
    return functions + [builtin_tool(key) for key, value in data.items() if key != "function_declarations" and value is not None]


def usage(metadata: Any) -> dict[str, Any]:
    """Gemini's prompt count already holds cached tokens; thoughts are output the conventions count."""
    if metadata is None:
        return {}
    thoughts = getattr(metadata, "thoughts_token_count", None) or 0
    candidates = getattr(metadata, "candidates_token_count", None)
    output = (candidates or 0) + thoughts if candidates is not None or thoughts else None
    total = None if getattr(metadata, "tool_use_prompt_token_count", None) else getattr(metadata, "total_token_count", None)  # ours leave tool-use prompts out
    attrs = usage_attributes(
        getattr(metadata, "prompt_token_count", None), output, cache_read=getattr(metadata, "cached_content_token_count", None), reasoning=thoughts, total=total
    )
    for field, direction in (("prompt_tokens_details", "input_tokens"), ("candidates_tokens_details", "output_tokens"),
                             ("cache_tokens_details", "cache_read.input_tokens")):  # fmt: skip
        details = getattr(metadata, field, None) or ()
        attrs.update(modality_usage([(getattr(getattr(d, "modality", None), "value", getattr(d, "modality", None)), getattr(d, "token_count", None)) for d in details], direction))
    return attrs


def response_attributes(response: Any, capture: bool) -> dict[str, Any]:
    candidates = getattr(response, "candidates", None) or []
    attrs: dict[str, Any] = {
        GenAI.GEN_AI_RESPONSE_ID: getattr(response, "response_id", None),
        GenAI.GEN_AI_RESPONSE_MODEL: getattr(response, "model_version", None),
        GenAI.GEN_AI_RESPONSE_FINISH_REASONS: [finish_reason(c.finish_reason) for c in candidates],
    }
    attrs.update(usage(getattr(response, "usage_metadata", None)))
    if capture:
        attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = to_json(
            [{"role": "assistant", "parts": _parts(c.content) if c.content else [], "finish_reason": finish_reason(c.finish_reason)} for c in candidates]
        )
    return attrs


class GenerateStreamRecorder(CallStreamRecorder):
    """Folds streamed ``GenerateContentResponse`` chunks: text and calls per candidate, the last usage."""

    __slots__ = ("_id", "_model", "_usage", "_candidates")

    def __init__(self, call: LLMCall, capture: bool) -> None:
        super().__init__(call, capture)
        self._id: str | None = None
        self._model: str | None = None
        self._usage: Any = None
        self._candidates: dict[int, dict[str, Any]] = {}

    def on_chunk(self, chunk: Any) -> None:
        if self.first_chunk():
            self._id = chunk.response_id
            self._model = chunk.model_version
        if chunk.usage_metadata is not None:
            self._usage = chunk.usage_metadata
        for candidate in chunk.candidates or ():
            state = self._candidates.setdefault(candidate.index or 0, {"parts": [], "finish": None})
            if candidate.content is not None and self._capture:
                state["parts"].extend(candidate.content.parts or ())
            if candidate.finish_reason is not None:
                state["finish"] = candidate.finish_reason

    def on_end(self, error: BaseException | None) -> None:
        unfinished = UNFINISHED
        states = [self._candidates[i] for i in sorted(self._candidates)]
        attrs: dict[str, Any] = {GenAI.GEN_AI_RESPONSE_ID: self._id, GenAI.GEN_AI_RESPONSE_MODEL: self._model}
        attrs.update(usage(self._usage))
        if states:
            attrs[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] = [finish_reason(s["finish"], unfinished) for s in states]
        if self._capture and states:
            attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = to_json(
                [{"role": "assistant", "parts": _merged(s["parts"]), "finish_reason": finish_reason(s["finish"], unfinished)} for s in states]
            )
        self.finish(attrs, error)


def _merged(parts: list[Any]) -> list[dict[str, Any]]:
    """Streamed text pieces joined into one text part; calls and other parts kept in order."""
    merged: list[dict[str, Any]] = []
    for part in parts:
        converted = _part(part)
        if converted["type"] == "text" and merged and merged[-1]["type"] == "text":
            merged[-1]["content"] += converted["content"]
        else:
            merged.append(converted)
    return merged
