"""Chat Completions: request, response and stream chunks as GenAI span attributes."""

from __future__ import annotations

import mimetypes
from typing import Any, Mapping

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.attributes import openai_attributes as OpenAIAttr

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
    output_type,
    parse_json,
    parsed_result,
    reported_cost,
    request_params,
    server_attributes_of,
    server_of,
    text_message_json,
    to_json,
    usage_attributes,
)  # fmt: skip

OPERATION = GenAI.GenAiOperationNameValues.CHAT.value
PROVIDER = GenAI.GenAiProviderNameValues.OPENAI.value
API_TYPE = OpenAIAttr.OpenaiApiTypeValues.CHAT_COMPLETIONS.value

# OpenAI finish reasons -> the conventions' names where they differ.
_FINISH_REASONS = {"tool_calls": "tool_call", "function_call": "tool_call"}

_REQUEST_PARAMS = {
    "temperature": GenAI.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": GenAI.GEN_AI_REQUEST_TOP_P,
    "frequency_penalty": GenAI.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": GenAI.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": GenAI.GEN_AI_REQUEST_SEED,
}


def request_attributes(kwargs: Mapping[str, Any], server: tuple[str | None, int | None]) -> dict[str, Any]:
    """Attributes known before the call; the sampling-relevant ones included."""
    kwargs = request_params(kwargs)
    attrs: dict[str, Any] = {
        GenAI.GEN_AI_OPERATION_NAME: OPERATION,
        GenAI.GEN_AI_PROVIDER_NAME: PROVIDER,
        OpenAIAttr.OPENAI_API_TYPE: API_TYPE,
    }
    model = kwargs.get("model")
    if model is not None and given(model):
        attrs[GenAI.GEN_AI_REQUEST_MODEL] = model if type(model) is str else str(model)
    if server[0]:
        attrs.update(server_attributes_of(server))
    if len(kwargs) > 2:  # model and messages only is the common call: nothing more to look up
        for param in _REQUEST_PARAMS.keys() & kwargs.keys():
            if given(kwargs[param]):
                attrs[_REQUEST_PARAMS[param]] = kwargs[param]
        if not _OPTIONAL.isdisjoint(kwargs):
            _optional_request_attributes(kwargs, attrs)
    return attrs


_OPTIONAL = frozenset({"max_completion_tokens", "max_tokens", "n", "stop", "stream", "service_tier", "response_format"})


def _optional_request_attributes(kwargs: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    max_tokens = kwargs.get("max_completion_tokens", kwargs.get("max_tokens"))
    if given(max_tokens):
        attrs[GenAI.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    n = kwargs.get("n")
    if given(n) and n != 1:
        attrs[GenAI.GEN_AI_REQUEST_CHOICE_COUNT] = n
    stop = kwargs.get("stop")
    if stop is not None and given(stop):
        attrs[GenAI.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop] if isinstance(stop, str) else list(stop)
    if kwargs.get("stream") is True:
        attrs[GenAI.GEN_AI_REQUEST_STREAM] = True
    tier = kwargs.get("service_tier")
    if given(tier) and tier != "auto":
        attrs[OpenAIAttr.OPENAI_REQUEST_SERVICE_TIER] = tier
    asked = _output_type(kwargs.get("response_format"))
    if asked:
        attrs[GenAI.GEN_AI_OUTPUT_TYPE] = asked


def _output_type(response_format: Any) -> str | None:
    return output_type(response_format.get("type") if isinstance(response_format, Mapping) else response_format)


def input_messages(messages: Any) -> str:
    """The request's messages in the conventions' JSON form (system messages stay in order)."""
    return "[" + ",".join(_input_json(m) for m in messages or ()) + "]"


def _input_json(message: Any) -> str:
    if type(message) is dict and len(message) == 2 and type(message.get("content")) is str and type(message.get("role")) is str:
        return text_message_json(message["role"], message["content"])
    return to_json(_input_message(message))


def _input_message(message: Any) -> dict[str, Any]:
    msg = as_dict(message)
    role = msg.get("role") or "user"
    parts: list[dict[str, Any]] = []
    if role == "tool":
        parts.append({"type": "tool_call_response", "id": msg.get("tool_call_id"), "response": msg.get("content")})
    else:
        parts.extend(_content_parts(msg.get("content")))
        parts.extend(_tool_call_parts(msg.get("tool_calls")))
    out: dict[str, Any] = {"role": role, "parts": parts}
    if msg.get("name"):
        out["name"] = msg["name"]
    return out


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts = []
    for item in content:
        part = as_dict(item)
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "content": part.get("text", "")})
        elif kind == "image_url":
            url = as_dict(part.get("image_url")).get("url", "")
            parts.append(_image(url))
        elif kind == "input_audio":
            audio = as_dict(part.get("input_audio"))
            parts.append(media_part("audio", data=audio.get("data"), mime_type=f"audio/{audio.get('format', 'wav')}"))
        elif kind == "file":
            file = as_dict(part.get("file"))
            parts.append(media_part(data=file.get("file_data"), file_id=file.get("file_id"), mime_type=_mime_of(file.get("filename"))))
        else:
            parts.append({"type": kind or "unknown"})
    return parts


def _image(url: str) -> dict[str, Any]:
    """A URL stays; inline ``data:`` base64 becomes a placeholder with its size and hash."""
    return media_part("image", url=url)


def _mime_of(filename: Any) -> str | None:
    return mimetypes.guess_type(filename)[0] if isinstance(filename, str) else None


def _tool_call_parts(tool_calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in tool_calls or ():
        call = as_dict(call)
        function = as_dict(call.get("function"))
        parts.append(
            {"type": "tool_call", "id": call.get("id"), "name": function.get("name"), "arguments": parse_json(function.get("arguments"))}
        )
    return parts


def _finish_reason(reason: Any, default: str = "error") -> str:
    return _FINISH_REASONS.get(reason, reason) if reason else default


def response_attributes(response: Any, capture_content: bool) -> dict[str, Any]:
    """Attributes from a complete ``ChatCompletion``."""
    choices = getattr(response, "choices", None) or []
    attrs: dict[str, Any] = {
        GenAI.GEN_AI_RESPONSE_ID: getattr(response, "id", None),
        GenAI.GEN_AI_RESPONSE_MODEL: getattr(response, "model", None),
        GenAI.GEN_AI_RESPONSE_FINISH_REASONS: [_finish_reason(c.finish_reason) for c in choices],
        OpenAIAttr.OPENAI_RESPONSE_SERVICE_TIER: getattr(response, "service_tier", None),
        OpenAIAttr.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: getattr(response, "system_fingerprint", None),
    }
    attrs.update(_usage(getattr(response, "usage", None)))
    if capture_content:
        attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = "[" + ",".join(_output_json(c) for c in choices) + "]"
    return attrs


def _output_json(choice: Any) -> str:
    message, reason = choice.message, _finish_reason(choice.finish_reason)
    if message.tool_calls is None and isinstance(message.content, str):
        return text_message_json(message.role or "assistant", message.content, reason)
    parts = _content_parts(message.content) + _refusal_parts(getattr(message, "refusal", None)) + _tool_call_parts(message.tool_calls)
    return to_json({"role": message.role or "assistant", "parts": parts, "finish_reason": reason})


def _tool_definition(tool: dict[str, Any]) -> dict[str, Any]:
    function = as_dict(tool.get("function"))
    if function:
        return function_definition(function.get("name"), function.get("description"), function.get("parameters"))
    return builtin_tool(tool.get("type"), tool.get("name"))


def _refusal_parts(refusal: Any) -> list[dict[str, Any]]:
    """A refusal is what the model said instead of an answer: its text is the message's text."""
    return [{"type": "text", "content": refusal}] if isinstance(refusal, str) and refusal else []


def _usage(usage: Any) -> dict[str, Any]:
    if usage is None:
        return {}
    attrs = usage_attributes(usage.prompt_tokens, usage.completion_tokens, total=getattr(usage, "total_tokens", None))
    cached = getattr(usage.prompt_tokens_details, "cached_tokens", None) if usage.prompt_tokens_details is not None else None
    if cached:
        attrs[GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    reasoning = getattr(usage.completion_tokens_details, "reasoning_tokens", None) if usage.completion_tokens_details is not None else None
    if reasoning:
        attrs[GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    attrs.update(reported_cost(usage))
    return attrs


class _ChoiceState:
    __slots__ = ("text", "refusal", "tool_calls", "finish_reason", "role")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.role = "assistant"

    def add_tool_call_delta(self, delta: Any) -> None:
        call = self.tool_calls.setdefault(delta.index, {"id": None, "name": None, "arguments": []})
        if delta.id:
            call["id"] = delta.id
        function = delta.function
        if function is not None:
            if function.name:
                call["name"] = function.name
            if function.arguments:
                call["arguments"].append(function.arguments)

    def message(self, unfinished: str) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [{"type": "text", "content": "".join(self.text)}] if self.text else []
        parts += _refusal_parts("".join(self.refusal))
        for call in self.tool_calls.values():
            parts.append({"type": "tool_call", "id": call["id"], "name": call["name"], "arguments": parse_json("".join(call["arguments"]))})
        return {"role": self.role, "parts": parts, "finish_reason": _finish_reason(self.finish_reason, unfinished)}


class ChatStreamRecorder(CallStreamRecorder):
    """Folds ``ChatCompletionChunk``s into the same attributes a full response gives."""

    __slots__ = ("_id", "_model", "_usage", "_tier", "_fingerprint", "_choices")

    def __init__(self, call: LLMCall, capture: bool) -> None:
        super().__init__(call, capture)
        self._id: str | None = None
        self._model: str | None = None
        self._usage: Any = None
        self._tier: str | None = None
        self._fingerprint: str | None = None
        self._choices: dict[int, _ChoiceState] = {}

    def on_chunk(self, chunk: Any) -> None:
        self.first_chunk()
        if self._model is None or self._id is None:  # until a chunk names them (Azure's first chunk is a blank prompt filter)
            self._metadata(chunk)
        if chunk.usage is not None:
            self._usage = chunk.usage
        for choice in chunk.choices:
            state = self._choices.get(choice.index)
            if state is None:
                state = self._choices[choice.index] = _ChoiceState()
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    state.text.append(delta.content)
                elif getattr(delta, "refusal", None):
                    state.refusal.append(delta.refusal)
                if delta.tool_calls:
                    for tool_delta in delta.tool_calls:
                        state.add_tool_call_delta(tool_delta)
            if choice.finish_reason:
                state.finish_reason = choice.finish_reason

    def _metadata(self, chunk: Any) -> None:
        self._id = chunk.id or None
        self._model = chunk.model or None
        self._tier = getattr(chunk, "service_tier", None) or self._tier
        self._fingerprint = getattr(chunk, "system_fingerprint", None) or self._fingerprint

    def on_end(self, error: BaseException | None) -> None:
        choices = [self._choices[i] for i in sorted(self._choices)]
        unfinished = UNFINISHED
        attrs: dict[str, Any] = {
            GenAI.GEN_AI_RESPONSE_ID: self._id,
            GenAI.GEN_AI_RESPONSE_MODEL: self._model,
            OpenAIAttr.OPENAI_RESPONSE_SERVICE_TIER: self._tier,
            OpenAIAttr.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: self._fingerprint,
        }
        if choices:
            attrs[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] = [_finish_reason(c.finish_reason, unfinished) for c in choices]
        attrs.update(_usage(self._usage))
        if self._capture and choices:
            attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = to_json([c.message(unfinished) for c in choices])
        self.finish(attrs, error)


class ChatCompletions:
    """``chat.completions.create`` (and ``parse``) as a GenAI ``chat`` span."""

    def __init__(self, stream_type: type, proxy: type) -> None:
        self._stream_type = stream_type
        self._proxy = proxy

    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        attrs = request_attributes(kwargs, server_of(getattr(instance, "_client", None)))
        if capture:
            attrs[GenAI.GEN_AI_INPUT_MESSAGES] = input_messages(kwargs.get("messages"))
            tools = kwargs.get("tools")
            if given(tools) and tools:
                attrs[TOOL_DEFINITIONS] = to_json([_tool_definition(as_dict(t)) for t in tools])
        return OPERATION, attrs.get(GenAI.GEN_AI_REQUEST_MODEL), attrs

    def finish(self, call: LLMCall, result: Any, capture: bool) -> Any:
        if isinstance(result, self._stream_type):
            return self._proxy(result, ChatStreamRecorder(call, capture))
        response = parsed_result(result, "choices")
        if response is not None:
            call.set_attributes(response_attributes(response, capture))
        return None
