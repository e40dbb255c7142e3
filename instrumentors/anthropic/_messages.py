"""Anthropic Messages: request, response and stream events as GenAI span attributes."""

from __future__ import annotations

from typing import Any, Mapping

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from .._genai import (
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
    request_params,
    server_attributes_of,
    server_of,
    server_tool_call,
    server_tool_response,
    to_json,
    usage_attributes,
)  # fmt: skip

OPERATION = GenAI.GenAiOperationNameValues.CHAT.value
PROVIDER = GenAI.GenAiProviderNameValues.ANTHROPIC.value

# Anthropic stop reasons -> the conventions' finish reasons.
_FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_call", "refusal": "content_filter"}
_REQUEST_PARAMS = {
    "max_tokens": GenAI.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": GenAI.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": GenAI.GEN_AI_REQUEST_TOP_P,
    "top_k": GenAI.GEN_AI_REQUEST_TOP_K,
}


def request_attributes(instance: Any, kwargs: Mapping[str, Any], capture: bool) -> dict[str, Any]:
    kwargs = request_params(kwargs)  # anthropic 2.x takes temperature, top_p and top_k only in extra_body
    attrs: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: OPERATION, GenAI.GEN_AI_PROVIDER_NAME: PROVIDER}
    if given(kwargs.get("model")):
        attrs[GenAI.GEN_AI_REQUEST_MODEL] = str(kwargs["model"])
    attrs.update(server_attributes_of(server_of(getattr(instance, "_client", None))))
    for param, key in _REQUEST_PARAMS.items():
        if given(kwargs.get(param)):
            attrs[key] = kwargs[param]
    effort = as_dict(kwargs.get("output_config")).get("effort")
    if effort:
        attrs[REASONING_LEVEL] = effort
    asked = _output_type(kwargs)
    if asked:
        attrs[GenAI.GEN_AI_OUTPUT_TYPE] = asked
    stop = kwargs.get("stop_sequences")
    if stop is not None and given(stop):
        attrs[GenAI.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    if kwargs.get("stream") is True:
        attrs[GenAI.GEN_AI_REQUEST_STREAM] = True
    if capture:
        attrs[GenAI.GEN_AI_INPUT_MESSAGES] = to_json([_input_message(m) for m in kwargs.get("messages") or ()])
        tools = kwargs.get("tools")
        if given(tools) and tools:
            attrs[TOOL_DEFINITIONS] = to_json([_tool_definition(as_dict(t)) for t in tools])
        system = kwargs.get("system")
        if given(system):
            attrs[GenAI.GEN_AI_SYSTEM_INSTRUCTIONS] = to_json(_system_parts(system))
    return attrs


def _output_type(kwargs: Mapping[str, Any]) -> str | None:
    """``output_config.format`` (or the beta ``output_format``, a schema or a class to parse into)."""
    for asked in (as_dict(kwargs.get("output_config")).get("format"), kwargs.get("output_format")):
        if given(asked) and asked is not None:
            return output_type(asked) if isinstance(asked, type) else output_type(as_dict(asked).get("type"))
    return None


def _tool_definition(tool: dict[str, Any]) -> dict[str, Any]:
    if "input_schema" in tool or tool.get("type") in (None, "custom"):
        return function_definition(tool.get("name"), tool.get("description"), tool.get("input_schema"))
    return builtin_tool(tool.get("type"), tool.get("name"))  # a tool Anthropic runs


def _system_parts(system: Any) -> list[dict[str, Any]]:
    if isinstance(system, str):
        return [{"type": "text", "content": system}]
    return [{"type": "text", "content": as_dict(b).get("text", "")} for b in system]


def _input_message(message: Any) -> dict[str, Any]:
    msg = as_dict(message)
    content = msg.get("content")
    parts = [{"type": "text", "content": content}] if isinstance(content, str) else [p for b in content or () for p in _parts(b)]
    return {"role": msg.get("role") or "user", "parts": parts}


def _parts(block: Any) -> list[dict[str, Any]]:
    """A block's parts: one, but a document made of content blocks is those blocks."""
    source = as_dict(as_dict(block).get("source"))
    if as_dict(block).get("type") == "document" and source.get("type") == "content":
        inner = source.get("content")
        return [{"type": "text", "content": inner}] if isinstance(inner, str) else [p for b in inner or () for p in _parts(b)]
    return [_part(block)]


def _part(block: Any) -> dict[str, Any]:
    """One content block in the conventions' part form; inline base64 media become placeholders."""
    b = as_dict(block)
    kind = b.get("type")
    if kind == "text":
        return {"type": "text", "content": b.get("text", "")}
    if kind == "tool_use":
        return {"type": "tool_call", "id": b.get("id"), "name": b.get("name"), "arguments": b.get("input")}
    if kind == "tool_result":
        return {"type": "tool_call_response", "id": b.get("tool_use_id"), "response": _tool_result(b.get("content"))}
    if kind in ("server_tool_use", "mcp_tool_use"):  # a tool Anthropic runs (web search, code execution…), or an MCP server's
        return server_tool_call(b.get("id"), str(b.get("name") or kind), {"input": b.get("input")})
    if kind and kind.endswith("_tool_result") and kind != "tool_result":
        return server_tool_response(b.get("tool_use_id"), kind.removesuffix("_tool_result"), {"content": b.get("content")})
    if kind in ("thinking", "redacted_thinking"):
        return {"type": "reasoning", "content": b.get("thinking", "")}
    if kind in ("image", "document"):
        source = as_dict(b.get("source"))
        return media_part("image" if kind == "image" else "document", data=source.get("data"), url=source.get("url"),
                          file_id=source.get("file_id"), mime_type=source.get("media_type"))  # fmt: skip
    return {"type": kind or "unknown"}


def _tool_result(content: Any) -> Any:
    if isinstance(content, list):
        return " ".join(as_dict(b).get("text", "") for b in content)
    return content


def finish_reason(stop_reason: Any, default: str = "error") -> str:
    return _FINISH_REASONS.get(stop_reason, stop_reason) if stop_reason else default


def usage(usage: Any) -> dict[str, Any]:
    """Anthropic's ``input_tokens`` leaves out cache reads and writes; the conventions' count includes them."""
    if usage is None:
        return {}
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    created = getattr(usage, "cache_creation_input_tokens", None) or 0
    thinking = getattr(getattr(usage, "output_tokens_details", None), "thinking_tokens", None)  # part of output_tokens
    return usage_attributes((getattr(usage, "input_tokens", None) or 0) + read + created, getattr(usage, "output_tokens", None),
                            cache_read=read, reasoning=thinking, cache_write=created)  # fmt: skip


def response_attributes(message: Any, capture: bool, default_finish: str = "error") -> dict[str, Any]:
    attrs: dict[str, Any] = {
        GenAI.GEN_AI_RESPONSE_ID: getattr(message, "id", None),
        GenAI.GEN_AI_RESPONSE_MODEL: getattr(message, "model", None),
        GenAI.GEN_AI_RESPONSE_FINISH_REASONS: [finish_reason(getattr(message, "stop_reason", None), default_finish)],
    }
    attrs.update(usage(getattr(message, "usage", None)))
    if capture:
        parts = [p for b in getattr(message, "content", None) or () for p in _parts(b)]
        attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = to_json(
            [{"role": "assistant", "parts": parts, "finish_reason": finish_reason(getattr(message, "stop_reason", None), default_finish)}]
        )
    return attrs


class MessageStreamRecorder(CallStreamRecorder):
    """Folds raw stream events (``message_start`` … ``message_stop``) into a response's attributes."""

    __slots__ = ("_message", "_blocks", "_stop_reason", "_output_tokens")

    def __init__(self, call: LLMCall, capture: bool) -> None:
        super().__init__(call, capture)
        self._message: Any = None
        self._blocks: dict[int, dict[str, Any]] = {}
        self._stop_reason: str | None = None
        self._output_tokens: int | None = None

    def on_chunk(self, event: Any) -> None:
        self.first_chunk()
        kind = event.type
        if kind == "content_block_delta":
            block = self._blocks.get(event.index)
            if block is not None:
                delta = event.delta
                block["chunks"].append(getattr(delta, "text", None) or getattr(delta, "partial_json", None) or getattr(delta, "thinking", None) or "")
        elif kind == "message_start":
            self._message = event.message
        elif kind == "content_block_start":
            self._blocks[event.index] = {"block": event.content_block, "chunks": []}
        elif kind == "message_delta":
            self._stop_reason = event.delta.stop_reason
            self._output_tokens = event.usage.output_tokens

    def on_end(self, error: BaseException | None) -> None:
        unfinished = UNFINISHED
        attrs: dict[str, Any] = {}
        if self._message is not None:
            attrs[GenAI.GEN_AI_RESPONSE_ID] = self._message.id
            attrs[GenAI.GEN_AI_RESPONSE_MODEL] = self._message.model
            attrs.update(usage(self._message.usage))
            attrs[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] = [finish_reason(self._stop_reason, unfinished)]
            if self._output_tokens is not None:
                attrs[GenAI.GEN_AI_USAGE_OUTPUT_TOKENS] = self._output_tokens  # cumulative in message_delta
        if self._capture and self._blocks:
            parts = [self._block_part(self._blocks[i]) for i in sorted(self._blocks)]
            attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = to_json([{"role": "assistant", "parts": parts, "finish_reason": finish_reason(self._stop_reason, unfinished)}])
        self.finish(attrs, error)

    @staticmethod
    def _block_part(state: dict[str, Any]) -> dict[str, Any]:
        block, text = state["block"], "".join(state["chunks"])
        if block.type == "tool_use":
            return {"type": "tool_call", "id": block.id, "name": block.name, "arguments": parse_json(text) if text else block.input}
        if block.type == "thinking":
            return {"type": "reasoning", "content": text}
        if block.type in ("server_tool_use", "mcp_tool_use"):
            return server_tool_call(block.id, str(getattr(block, "name", None) or block.type), {"input": parse_json(text) if text else getattr(block, "input", None)})
        if block.type == "text":
            return {"type": "text", "content": text}
        return _part(block)  # a block that arrives whole (a server tool's result)
