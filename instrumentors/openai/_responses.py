"""The Responses API: ``responses.create`` / ``parse`` (and ``responses.stream``, which calls ``create``)
as a GenAI ``chat`` span with ``openai.api.type=responses``."""

from __future__ import annotations

from typing import Any, Mapping

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.attributes import openai_attributes as OpenAIAttr

from .._genai import (
    CONVERSATION_COMPACTED,
    FETCH_RESPONSE,
    PREVIOUS_RESPONSE_ID,
    REASONING_LEVEL,
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
    to_json,
    usage_attributes,
)  # fmt: skip
from ._chat import OPERATION, PROVIDER, _mime_of

API_TYPE = OpenAIAttr.OpenaiApiTypeValues.RESPONSES.value
# Not in the semconv package yet (see the conventions' registry).
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}
_FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def request_attributes(instance: Any, kwargs: Mapping[str, Any], capture: bool) -> dict[str, Any]:
    kwargs = request_params(kwargs)
    attrs: dict[str, Any] = {
        GenAI.GEN_AI_OPERATION_NAME: OPERATION,
        GenAI.GEN_AI_PROVIDER_NAME: PROVIDER,
        OpenAIAttr.OPENAI_API_TYPE: API_TYPE,
    }
    if given(kwargs.get("model")):
        attrs[GenAI.GEN_AI_REQUEST_MODEL] = str(kwargs["model"])
    attrs.update(server_attributes_of(server_of(getattr(instance, "_client", None))))
    for param, key in (("temperature", GenAI.GEN_AI_REQUEST_TEMPERATURE), ("top_p", GenAI.GEN_AI_REQUEST_TOP_P), ("max_output_tokens", GenAI.GEN_AI_REQUEST_MAX_TOKENS)):
        if given(kwargs.get(param)):
            attrs[key] = kwargs[param]
    if kwargs.get("stream") is True:
        attrs[GenAI.GEN_AI_REQUEST_STREAM] = True
    effort = as_dict(kwargs.get("reasoning")).get("effort")
    if effort:
        attrs[REASONING_LEVEL] = effort
    if given(kwargs.get("previous_response_id")):
        attrs[PREVIOUS_RESPONSE_ID] = kwargs["previous_response_id"]
    conversation = kwargs.get("conversation")
    if given(conversation):
        attrs[GenAI.GEN_AI_CONVERSATION_ID] = conversation if isinstance(conversation, str) else as_dict(conversation).get("id")
    tier = kwargs.get("service_tier")
    if given(tier) and tier != "auto":
        attrs[OpenAIAttr.OPENAI_REQUEST_SERVICE_TIER] = tier
    asked = output_type(kwargs["text_format"]) if given(kwargs.get("text_format")) else output_type(as_dict(as_dict(kwargs.get("text")).get("format")).get("type"))
    if asked:
        attrs[GenAI.GEN_AI_OUTPUT_TYPE] = asked
    if capture:
        attrs[GenAI.GEN_AI_INPUT_MESSAGES] = to_json(input_messages(kwargs.get("input")))
        tools = kwargs.get("tools")
        if given(tools) and tools:
            attrs[TOOL_DEFINITIONS] = to_json([_tool_definition(as_dict(t)) for t in tools])
        if given(kwargs.get("instructions")) and kwargs.get("instructions"):
            attrs[GenAI.GEN_AI_SYSTEM_INSTRUCTIONS] = to_json([{"type": "text", "content": kwargs["instructions"]}])
    return attrs


def _tool_definition(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") == "function":
        return function_definition(tool.get("name"), tool.get("description"), tool.get("parameters"))
    return builtin_tool(tool.get("type"), tool.get("name"))  # a custom or built-in tool


def input_messages(items: Any) -> list[dict[str, Any]]:
    """The request's input items, each as one message (a tool call and its output included, whatever the tool)."""
    if not given(items):
        return []
    if isinstance(items, str):
        return [{"role": "user", "parts": [{"type": "text", "content": items}]}]
    messages = []
    for item in items:
        data = as_dict(item)
        role, parts = item_parts(data)
        if parts:
            messages.append({"role": role, "parts": parts})
    return messages


def item_parts(item: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """One Responses item (input or output) as the role that made it and its parts in the conventions' form."""
    kind = item.get("type", "message")
    if kind == "message":
        content = item.get("content")
        parts = [{"type": "text", "content": content}] if isinstance(content, str) else [_content_part(as_dict(c)) for c in content or ()]
        return item.get("role") or "user", parts
    if kind in _CALLS:
        return "assistant", [{"type": "tool_call", "id": item.get("call_id"), "name": _CALLS[kind](item), "arguments": _call_arguments(item)}]
    if kind in ("function_call_output", "custom_tool_call_output", "computer_call_output"):
        output = item.get("output")
        if isinstance(output, dict) and output.get("image_url"):  # a computer screenshot
            output = media_part("image", url=output["image_url"], file_id=output.get("file_id"))
        return "tool", [{"type": "tool_call_response", "id": item.get("call_id"), "response": output}]
    if kind in _SERVER_TOOLS:
        details = {k: v for k, v in item.items() if k not in ("id", "type", "status")}
        return "assistant", [{"type": "server_tool_call", "id": item.get("id"), "name": _SERVER_TOOLS[kind],
                              "server_tool_call": {"type": _SERVER_TOOLS[kind], **details}}]  # fmt: skip
    if kind == "reasoning":
        texts = [as_dict(s).get("text", "") for s in item.get("summary") or ()] + [as_dict(c).get("text", "") for c in item.get("content") or ()]
        return "assistant", [{"type": "reasoning", "content": text} for text in texts if text]
    if kind == "compaction":
        return "assistant", [{"type": "compaction", "id": item.get("id")}]
    return "assistant", [{"type": kind}]


# Tool calls the application runs, by item type -> the tool's name.
_CALLS = {"function_call": lambda i: i.get("name"), "custom_tool_call": lambda i: i.get("name"), "computer_call": lambda i: "computer"}
# Tools the provider runs itself, by item type -> the tool's name.
_SERVER_TOOLS = {"web_search_call": "web_search", "file_search_call": "file_search", "code_interpreter_call": "code_interpreter",
                 "image_generation_call": "image_generation", "mcp_call": "mcp"}  # fmt: skip


def _call_arguments(item: dict[str, Any]) -> Any:
    if item.get("type") == "computer_call":
        return {"actions": item.get("actions")} if item.get("actions") is not None else {"action": item.get("action")}
    return parse_json(item.get("arguments", item.get("input")))


def _content_part(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "content": part.get("text", "")}
    if kind == "input_image":
        return media_part("image", url=part.get("image_url"), file_id=part.get("file_id"))
    if kind == "input_file":
        return media_part(data=part.get("file_data"), url=part.get("file_url"), file_id=part.get("file_id"), mime_type=_mime_of(part.get("filename")))
    if kind == "input_audio":
        audio = as_dict(part.get("input_audio"))
        return media_part("audio", data=audio.get("data"), mime_type=f"audio/{audio.get('format', 'wav')}")
    return {"type": kind or "unknown"}


def finish_reason(response: Any) -> str:
    status = getattr(response, "status", None)
    if status == "incomplete":
        reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
        return _INCOMPLETE.get(str(reason), UNFINISHED)
    if status in ("failed", "cancelled"):
        return "error"
    items = getattr(response, "output", None) or []
    return "tool_call" if any(getattr(i, "type", None) in _CALLS for i in items) else "stop"


def response_attributes(response: Any, capture: bool) -> dict[str, Any]:
    reason = finish_reason(response)
    attrs: dict[str, Any] = {
        GenAI.GEN_AI_RESPONSE_ID: getattr(response, "id", None),
        GenAI.GEN_AI_RESPONSE_MODEL: getattr(response, "model", None),
        GenAI.GEN_AI_RESPONSE_FINISH_REASONS: [reason],
        OpenAIAttr.OPENAI_RESPONSE_SERVICE_TIER: getattr(response, "service_tier", None),
        CONVERSATION_COMPACTED: True if compacted(response) else None,  # only ever true, and only when certain
    }
    usage = getattr(response, "usage", None)
    if usage is not None:
        attrs.update(
            usage_attributes(
                usage.input_tokens,
                usage.output_tokens,
                cache_read=getattr(getattr(usage, "input_tokens_details", None), "cached_tokens", None),
                reasoning=getattr(getattr(usage, "output_tokens_details", None), "reasoning_tokens", None),
                total=getattr(usage, "total_tokens", None),
            )
        )
        attrs.update(reported_cost(usage))
    if capture:
        attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = to_json([{"role": "assistant", "parts": output_parts(response), "finish_reason": reason}])
    return attrs


def output_parts(response: Any) -> list[dict[str, Any]]:
    """All output items as one assistant message's parts, in order."""
    return [part for item in getattr(response, "output", None) or [] for part in item_parts(as_dict(item))[1]]


def compacted(response: Any) -> bool:
    return any(getattr(item, "type", None) == "compaction" for item in getattr(response, "output", None) or [])


class ResponseStreamRecorder(CallStreamRecorder):
    """Keeps the final ``response.*`` event's response; without one, the text streamed so far."""

    __slots__ = ("_final", "_text", "_id", "_model", "_reported", "_fetched")

    def __init__(self, call: LLMCall, capture: bool, fetched: bool = False) -> None:
        super().__init__(call, capture)
        self._fetched = fetched  # a fetch_response: no usage, and the generation's failure is not the call's
        self._final: Any = None
        self._text: list[str] = []
        self._id: str | None = None
        self._model: str | None = None
        self._reported: tuple[str, str] | None = None  # an in-band error: (code, message)

    def on_chunk(self, event: Any) -> None:
        self.first_chunk()
        kind = event.type
        if kind == "response.output_text.delta":
            if self._capture:
                self._text.append(event.delta)
        elif kind == "response.created":
            self._id, self._model = event.response.id, event.response.model
        elif kind in _FINAL_EVENTS:
            self._final = event.response
            failure = getattr(event.response, "error", None)
            if failure is not None:
                self._reported = (str(getattr(failure, "code", None) or "response_failed"), str(getattr(failure, "message", "") or ""))
        elif kind == "error":
            self._reported = (str(getattr(event, "code", None) or "stream_error"), str(getattr(event, "message", "") or ""))

    def on_end(self, error: BaseException | None) -> None:
        if self._final is not None:
            attrs = response_attributes(self._final, self._capture)
        else:
            reason = UNFINISHED
            attrs = {GenAI.GEN_AI_RESPONSE_ID: self._id, GenAI.GEN_AI_RESPONSE_MODEL: self._model, GenAI.GEN_AI_RESPONSE_FINISH_REASONS: [reason]}
            if self._capture:
                parts = [{"type": "text", "content": "".join(self._text)}] if self._text else []
                attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = to_json([{"role": "assistant", "parts": parts, "finish_reason": reason}])
        if self._fetched:
            self.finish(_without_usage(attrs), error)
        else:
            self.finish(attrs, error, self._reported)


class Responses:
    """``responses.create`` / ``parse`` as a GenAI ``chat`` span."""

    def __init__(self, stream_type: type, proxy: type) -> None:
        self._stream_type = stream_type
        self._proxy = proxy

    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        attrs = request_attributes(instance, kwargs, capture)
        return OPERATION, attrs.get(GenAI.GEN_AI_REQUEST_MODEL), attrs

    def finish(self, call: LLMCall, result: Any, capture: bool) -> Any:
        if isinstance(result, self._stream_type):
            return self._proxy(result, ResponseStreamRecorder(call, capture))
        response = parsed_result(result, "output")
        if response is not None:
            call.set_attributes(response_attributes(response, capture))
        return None


class FetchResponse(Responses):
    """``responses.retrieve`` (a background response fetched, or its events streamed again) as a ``fetch_response``
    span: the response's output, but never its token usage (the call that made it reported that), and a
    generation that failed is what was fetched, not a failed fetch."""

    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        attrs: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: FETCH_RESPONSE, GenAI.GEN_AI_PROVIDER_NAME: PROVIDER, OpenAIAttr.OPENAI_API_TYPE: API_TYPE}
        attrs.update(server_attributes_of(server_of(getattr(instance, "_client", None))))
        response_id = args[0] if args else kwargs.get("response_id")
        if isinstance(response_id, str):
            attrs[GenAI.GEN_AI_RESPONSE_ID] = response_id
        if kwargs.get("stream") is True:
            attrs[GenAI.GEN_AI_REQUEST_STREAM] = True
        return FETCH_RESPONSE, None, attrs  # the span is named by the operation alone: a response id is no name

    def finish(self, call: LLMCall, result: Any, capture: bool) -> Any:
        if isinstance(result, self._stream_type):
            return self._proxy(result, ResponseStreamRecorder(call, capture, fetched=True))
        response = parsed_result(result, "output")
        if response is not None:
            call.set_attributes(_without_usage(response_attributes(response, capture)))
        return None


def _without_usage(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if not k.startswith("gen_ai.usage.")}
