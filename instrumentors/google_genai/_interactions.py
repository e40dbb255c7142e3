"""The Gemini Interactions API: ``interactions.create`` as a ``chat`` span (``invoke_agent`` when it runs an
agent), ``interactions.get`` as a ``fetch_response`` span; sync, async and streamed (server-sent events)."""

from __future__ import annotations

from typing import Any, Mapping

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from .._genai import (
    FETCH_RESPONSE,
    PREVIOUS_RESPONSE_ID,
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
    parse_json,
    server_tool_call,
    server_tool_response,
    to_json,
    usage_attributes,
)
from ._generate import provider_and_server

CHAT = GenAI.GenAiOperationNameValues.CHAT.value
AGENT = GenAI.GenAiOperationNameValues.INVOKE_AGENT.value
_FINISH = {"completed": "stop", "requires_action": "tool_call", "incomplete": "length", "failed": "error", "cancelled": "error"}
_CONFIG = {"temperature": GenAI.GEN_AI_REQUEST_TEMPERATURE, "top_p": GenAI.GEN_AI_REQUEST_TOP_P, "max_output_tokens": GenAI.GEN_AI_REQUEST_MAX_TOKENS,
           "seed": GenAI.GEN_AI_REQUEST_SEED}  # fmt: skip
# Steps of tools Gemini runs itself -> the tool's name.
_SERVER_CALLS = {"google_search_call": "google_search", "code_execution_call": "code_execution", "url_context_call": "url_context",
                 "file_search_call": "file_search", "google_maps_call": "google_maps"}  # fmt: skip


def request_attributes(instance: Any, kwargs: Mapping[str, Any], capture: bool) -> dict[str, Any]:
    request = kwargs.get("request")
    body = {**(request if isinstance(request, Mapping) else {}), **kwargs}
    agent = body.get("agent")
    attrs: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: AGENT if agent else CHAT, **provider_and_server(instance)}
    if given(body.get("model")) and body.get("model"):
        attrs[GenAI.GEN_AI_REQUEST_MODEL] = str(body["model"])
    if agent:
        attrs[GenAI.GEN_AI_AGENT_NAME] = str(agent)
    if body.get("stream") is True:
        attrs[GenAI.GEN_AI_REQUEST_STREAM] = True
    if isinstance(body.get("previous_interaction_id"), str):
        attrs[PREVIOUS_RESPONSE_ID] = body["previous_interaction_id"]
    config = as_dict(body.get("generation_config"))
    attrs.update({key: config[param] for param, key in _CONFIG.items() if isinstance(config.get(param), (int, float))})
    if config.get("stop_sequences"):
        attrs[GenAI.GEN_AI_REQUEST_STOP_SEQUENCES] = list(config["stop_sequences"])
    asked = output_type(as_dict(body.get("response_format")).get("type")) or output_type(body.get("response_mime_type"))
    if asked or body.get("response_format"):
        attrs[GenAI.GEN_AI_OUTPUT_TYPE] = asked or "json"
    if capture:
        attrs[GenAI.GEN_AI_INPUT_MESSAGES] = to_json(input_messages(body.get("input")))
        if isinstance(body.get("system_instruction"), str):
            attrs[GenAI.GEN_AI_SYSTEM_INSTRUCTIONS] = to_json([{"type": "text", "content": body["system_instruction"]}])
        tools = [as_dict(t) for t in body.get("tools") or ()]
        if tools:
            attrs[TOOL_DEFINITIONS] = to_json([_tool_definition(t) for t in tools])
    return attrs


def _tool_definition(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") == "function":
        return function_definition(tool.get("name"), tool.get("description"), tool.get("parameters"))
    return builtin_tool(tool.get("type"), tool.get("name"))


def input_messages(given_input: Any) -> list[dict[str, Any]]:
    """The input: a text, a list of content parts (one user turn), or a list of turns with roles."""
    if isinstance(given_input, str):
        return [{"role": "user", "parts": [{"type": "text", "content": given_input}]}]
    items = [as_dict(i) for i in given_input or ()] if isinstance(given_input, (list, tuple)) else [as_dict(given_input)]
    if items and all("role" in i for i in items):
        return [{"role": "assistant" if i["role"] == "model" else i["role"], "parts": _content_parts(i.get("content"))} for i in items]
    return [{"role": "user", "parts": [p for i in items for p in _step_parts(i)]}]


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    return [p for c in content or () for p in _step_parts(as_dict(c))]


def _step_parts(step: dict[str, Any]) -> list[dict[str, Any]]:
    """One step (or content item) of an interaction in the conventions' part form."""
    kind = step.get("type")
    if kind == "text" or (kind is None and isinstance(step.get("text"), str)):
        return [{"type": "text", "content": step.get("text", "")}]
    if kind == "model_output" or (kind is None and "content" in step):
        return _content_parts(step.get("content"))
    if kind == "thought":
        summary = step.get("summary")
        texts = [as_dict(s).get("text", "") for s in summary] if isinstance(summary, list) else []
        return [{"type": "reasoning", "content": t} for t in texts if t]
    if kind == "function_call":
        return [{"type": "tool_call", "id": step.get("id"), "name": step.get("name"), "arguments": parse_json(step.get("arguments"))}]
    if kind == "function_result":
        return [{"type": "tool_call_response", "id": step.get("call_id"), "response": step.get("result")}]
    if kind in _SERVER_CALLS:
        return [server_tool_call(step.get("id"), _SERVER_CALLS[kind], {"arguments": step.get("arguments")})]
    if kind and kind.endswith("_result") and kind.removesuffix("_result") + "_call" in _SERVER_CALLS:
        return [server_tool_response(step.get("call_id"), _SERVER_CALLS[kind.removesuffix("_result") + "_call"], {"result": step.get("result")})]
    if kind in ("image", "audio", "video", "document"):
        return [media_part(kind, data=step.get("data"), url=step.get("uri"), mime_type=step.get("mime_type"))]
    return [{"type": str(kind or "unknown")}]


def response_attributes(interaction: Any, capture: bool, fetched: bool = False) -> dict[str, Any]:
    data = as_dict(interaction)
    reason = _FINISH.get(str(data.get("status")), UNFINISHED)
    attrs: dict[str, Any] = {GenAI.GEN_AI_RESPONSE_ID: data.get("id"), GenAI.GEN_AI_RESPONSE_MODEL: data.get("model"),
                             GenAI.GEN_AI_RESPONSE_FINISH_REASONS: [reason]}  # fmt: skip
    if not fetched:  # a fetch reports no usage: the call that made the interaction did
        attrs.update(usage(data.get("usage")))
    if capture and data.get("steps") is not None:
        parts = [p for step in data["steps"] if as_dict(step).get("type") != "user_input" for p in _step_parts(as_dict(step))]  # the model's steps
        attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = to_json([{"role": "assistant", "parts": parts, "finish_reason": reason}])
    return attrs


def usage(totals: Any) -> dict[str, Any]:
    """Thought tokens are output the conventions count (and report as reasoning); cached input is part of input."""
    u = as_dict(totals)
    if not u:
        return {}
    thoughts = u.get("total_thought_tokens") or 0
    output = u.get("total_output_tokens")
    attrs = usage_attributes(u.get("total_input_tokens"), (output or 0) + thoughts if output is not None else None,
                             cache_read=u.get("total_cached_tokens"), reasoning=thoughts)  # fmt: skip
    for field, direction in (("input_tokens_by_modality", "input_tokens"), ("output_tokens_by_modality", "output_tokens")):
        attrs.update(modality_usage([(as_dict(m).get("modality"), as_dict(m).get("tokens")) for m in u.get(field) or ()], direction))
    return attrs


class InteractionStreamRecorder(CallStreamRecorder):
    """Folds the server-sent events: steps as they start and grow, the final interaction's status and usage."""

    __slots__ = ("_fetched", "_final", "_steps", "_reported")

    def __init__(self, call: LLMCall, capture: bool, fetched: bool = False) -> None:
        super().__init__(call, capture)
        self._fetched = fetched
        self._final: dict[str, Any] = {}
        self._steps: dict[Any, dict[str, Any]] = {}
        self._reported: tuple[str, str] | None = None

    def on_chunk(self, event: Any) -> None:
        """Read on every event, so fields are read as attributes: only the few whole objects kept are dumped."""
        self.first_chunk()
        kind = _field(event, "event_type")
        if kind == "step.delta":
            if self._capture:
                _grow(self._steps.setdefault(_field(event, "index"), {}), _field(event, "delta"))
        elif kind in ("interaction.created", "interaction.completed", "interaction.complete"):
            self._final.update({k: v for k, v in as_dict(_field(event, "interaction")).items() if v is not None})
        elif kind == "interaction.status_update":
            self._final["status"] = _field(event, "status")
        elif kind == "step.start" and self._capture:
            self._steps[_field(event, "index")] = dict(as_dict(_field(event, "step")))
        elif kind == "error":
            failure = as_dict(_field(event, "error"))
            self._reported = (str(failure.get("code") or "stream_error"), str(failure.get("message") or ""))

    def on_end(self, error: BaseException | None) -> None:
        attrs: dict[str, Any] = response_attributes(self._final, False, self._fetched) if self._final else {GenAI.GEN_AI_RESPONSE_FINISH_REASONS: [UNFINISHED]}
        if self._capture and self._steps:
            reason = str(attrs[GenAI.GEN_AI_RESPONSE_FINISH_REASONS][0])
            steps = [_joined(self._steps[i]) for i in sorted(self._steps, key=str)]
            parts = [p for step in steps if step.get("type") != "user_input" for p in _step_parts(step)]
            attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = to_json([{"role": "assistant", "parts": parts, "finish_reason": reason}])
        self.finish(attrs, error, None if self._fetched else self._reported)


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def _grow(step: dict[str, Any], delta: Any) -> None:
    """Add a streamed delta to its step: text pieces are kept to be joined once at the end, other fields are set."""
    text = _field(delta, "text")
    if isinstance(text, str):
        step.setdefault("type", "model_output")
        step.setdefault("_texts", []).append(text)
        return
    for key, value in as_dict(delta).items():
        if key not in ("type", "signature") and value is not None:
            step[key] = value


def _joined(step: dict[str, Any]) -> dict[str, Any]:
    """A streamed step as a whole one: its text pieces joined into one text item of its content."""
    texts = step.pop("_texts", None)
    if texts:
        step["content"] = [*(step.get("content") or []), {"type": "text", "text": "".join(texts)}]
    return step


class CreateInteraction:
    """``interactions.create``: a ``chat`` span (``invoke_agent`` when it runs an agent)."""

    fetches = False  # a fetch reports no usage, and the fetched interaction's failure is not the call's

    def __init__(self, stream_type: type, proxy: type) -> None:
        self._stream_type, self._proxy = stream_type, proxy

    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        attrs = request_attributes(instance, kwargs, capture)
        name = attrs.get(GenAI.GEN_AI_AGENT_NAME) if attrs[GenAI.GEN_AI_OPERATION_NAME] == AGENT else attrs.get(GenAI.GEN_AI_REQUEST_MODEL)
        return attrs[GenAI.GEN_AI_OPERATION_NAME], name, attrs

    def finish(self, call: LLMCall, result: Any, capture: bool) -> Any:
        if isinstance(result, self._stream_type):
            return self._proxy(result, InteractionStreamRecorder(call, capture, fetched=self.fetches))
        if hasattr(result, "status"):
            call.set_attributes(response_attributes(result, capture, self.fetches))
        return None


class GetInteraction(CreateInteraction):
    """``interactions.get``: the interaction fetched, as a ``fetch_response`` span (no usage; its failure is not the fetch's)."""

    fetches = True

    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        attrs: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: FETCH_RESPONSE, **provider_and_server(instance)}
        interaction_id = args[0] if args else kwargs.get("id")
        if isinstance(interaction_id, str):
            attrs[GenAI.GEN_AI_RESPONSE_ID] = interaction_id
        if kwargs.get("stream") is True:
            attrs[GenAI.GEN_AI_REQUEST_STREAM] = True
        return FETCH_RESPONSE, None, attrs
