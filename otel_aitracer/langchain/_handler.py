"""The callback handler: LangChain run events in, OpenTelemetry spans out (see the package docstring)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _RUNTIME_CONTEXT
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

from .._fork import new_lock

_OP = GenAI.GenAiOperationNameValues
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool", "chat": "user"}


class _Open:
    __slots__ = ("span", "token", "scoped", "owned")

    def __init__(self, span: Span, token: object | None = None, scoped: _Scoped | None = None, owned: bool = True) -> None:
        self.span, self.token, self.scoped, self.owned = span, token, scoped, owned


class _Scoped(Span):
    """What a model or tool call makes current: its span while the call runs, then the span that was current
    before it. LangChain ends an async model call in another task than the one that started it, so the
    context made current at the start cannot be detached there; the one it leaves behind must not keep a
    finished span current (what the app opens next would nest under it)."""

    def __init__(self, span: Span, before: Span) -> None:
        self._span, self._before = span, before

    def release(self) -> None:
        self._span = self._before

    @property
    def attributes(self) -> Any:
        return getattr(self._span, "attributes", None)

    def get_span_context(self) -> Any:
        return self._span.get_span_context()

    def is_recording(self) -> bool:
        return self._span.is_recording()

    def set_attributes(self, attributes: Any) -> None:
        self._span.set_attributes(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        self._span.set_attribute(key, value)

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        self._span.add_event(name, attributes, timestamp)

    def update_name(self, name: str) -> None:
        self._span.update_name(name)

    def set_status(self, status: Any, description: str | None = None) -> None:
        self._span.set_status(status, description)

    def record_exception(self, exception: BaseException, attributes: Any = None, timestamp: int | None = None, escaped: bool = False) -> None:
        self._span.record_exception(exception, attributes, timestamp, escaped)

    def end(self, end_time: int | None = None) -> None:
        """Not ours to end: the handler ends the span itself."""


class AITracerCallbackHandler(BaseCallbackHandler):  # type: ignore[misc]
    """One handler for every run of the process; thread-safe. Called inline, on the run's own thread or
    task, so the span a model or tool call makes current is current where the call happens."""

    run_inline = True
    raise_error = False

    def __init__(self, tracer_provider: TracerProvider | None = None, capture_content: bool = True) -> None:
        self._tracer = trace.get_tracer("otel_aitracer.langchain", tracer_provider=tracer_provider)
        self._capture = capture_content
        self._open: dict[UUID, _Open] = {}
        self._lock = new_lock()
        self.enabled = True

    # ---- graph, nodes, and LangChain's plumbing ---------------------------------------------------
    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, metadata: Any = None, **kwargs: Any) -> None:
        metadata = metadata or {}
        name = kwargs.get("name") or _name(serialized) or "graph"
        if parent_run_id is None:
            attributes = {GenAI.GEN_AI_OPERATION_NAME: _OP.INVOKE_WORKFLOW.value, GenAI.GEN_AI_WORKFLOW_NAME: name}
            if metadata.get("thread_id") is not None:
                attributes[GenAI.GEN_AI_CONVERSATION_ID] = str(metadata["thread_id"])
            self._start(run_id, None, f"{_OP.INVOKE_WORKFLOW.value} {name}", SpanKind.INTERNAL, attributes, current=True)
        elif metadata.get("langgraph_node") == name and not str(name).startswith("__"):
            attributes = {GenAI.GEN_AI_OPERATION_NAME: _OP.INVOKE_AGENT.value, GenAI.GEN_AI_AGENT_NAME: name}
            self._start(run_id, parent_run_id, f"{_OP.INVOKE_AGENT.value} {name}", SpanKind.INTERNAL, attributes, current=True)
        else:
            self._borrow(run_id, parent_run_id)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    # ---- model calls -----------------------------------------------------------------------------
    def on_chat_model_start(
        self, serialized: Any, messages: list[list[Any]], *, run_id: UUID, parent_run_id: UUID | None = None, metadata: Any = None, invocation_params: Any = None, **kwargs: Any
    ) -> None:  # fmt: skip
        metadata, params = metadata or {}, invocation_params or {}
        model = params.get("model") or params.get("model_name") or metadata.get("ls_model_name") or ""
        attributes: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: _OP.CHAT.value, GenAI.GEN_AI_REQUEST_MODEL: model}
        if metadata.get("ls_provider"):
            attributes[GenAI.GEN_AI_PROVIDER_NAME] = str(metadata["ls_provider"])
        for key, attribute in (("temperature", GenAI.GEN_AI_REQUEST_TEMPERATURE), ("max_tokens", GenAI.GEN_AI_REQUEST_MAX_TOKENS)):
            if isinstance(params.get(key), (int, float)):
                attributes[attribute] = params[key]
        if self._capture and messages:
            attributes[GenAI.GEN_AI_INPUT_MESSAGES] = _json([_message(m) for m in messages[0]])
        self._start(run_id, parent_run_id, f"{_OP.CHAT.value} {model}".strip(), SpanKind.CLIENT, attributes, current=True)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        opened = self._open.get(run_id)
        if opened is not None and opened.owned:
            opened.span.set_attributes(_result_attributes(response, self._capture))
        self._end(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    # ---- tools -----------------------------------------------------------------------------------
    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID, parent_run_id: UUID | None = None, inputs: Any = None, **kwargs: Any) -> None:
        name = kwargs.get("name") or _name(serialized) or "tool"
        attributes: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: _OP.EXECUTE_TOOL.value, GenAI.GEN_AI_TOOL_NAME: name}
        if self._capture:
            attributes[GenAI.GEN_AI_TOOL_CALL_ARGUMENTS] = _json(inputs) if inputs is not None else input_str
        self._start(run_id, parent_run_id, f"{_OP.EXECUTE_TOOL.value} {name}", SpanKind.INTERNAL, attributes, current=True)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        opened = self._open.get(run_id)
        if opened is not None and self._capture:
            content = getattr(output, "content", output)
            opened.span.set_attribute(GenAI.GEN_AI_TOOL_CALL_RESULT, content if isinstance(content, str) else _json(content))
        self._end(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    # ---- spans -----------------------------------------------------------------------------------
    def _start(self, run_id: UUID, parent_run_id: UUID | None, name: str, kind: SpanKind, attributes: dict[str, Any], current: bool = False) -> None:
        if not self.enabled:
            return
        parent = self._open.get(parent_run_id) if parent_run_id is not None else None
        context = trace.set_span_in_context(parent.span) if parent is not None else None  # the root: the app's current span
        span = self._tracer.start_span(name, context=context, kind=kind, attributes=attributes)
        scoped = _Scoped(span, trace.get_current_span()) if current else None
        token = otel_context.attach(trace.set_span_in_context(scoped)) if scoped is not None else None
        with self._lock:
            self._open[run_id] = _Open(span, token, scoped)

    def _borrow(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        """A run that is no span: what runs inside it nests under its nearest span."""
        parent = self._open.get(parent_run_id) if parent_run_id is not None else None
        if parent is not None:
            with self._lock:
                self._open[run_id] = _Open(parent.span, owned=False)

    def _end(self, run_id: UUID, error: BaseException | None = None) -> None:
        with self._lock:
            opened = self._open.pop(run_id, None)
        if opened is None or not opened.owned:
            return
        if opened.scoped is not None:
            opened.scoped.release()
            _detach_if_here(opened.token)
        if error is not None:
            opened.span.set_attribute("error.type", type(error).__qualname__)
            opened.span.record_exception(error)
            opened.span.set_status(Status(StatusCode.ERROR, str(error) or type(error).__qualname__))
        opened.span.end()


def _detach_if_here(token: Any) -> None:
    """Undo the attach where the call ends in the context it started in; elsewhere (an async call ends in
    another task) leave it: the released :class:`_Scoped` it left current stands for what was before.
    OTel's public ``detach`` would log an error with a traceback for every such call."""
    try:
        _RUNTIME_CONTEXT.detach(token)
    except ValueError:
        pass


def _name(serialized: Any) -> str | None:
    if isinstance(serialized, dict):
        name = serialized.get("name") or (serialized.get("id") or [None])[-1]
        return str(name) if name else None
    return None


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _message(message: Any) -> dict[str, Any]:
    """A LangChain message in the conventions' shape: role and parts."""
    role = _ROLES.get(getattr(message, "type", ""), "user")
    parts: list[dict[str, Any]] = []
    content = getattr(message, "content", "")
    if isinstance(content, str) and content:
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        parts += [{"type": "text", "content": c["text"]} if isinstance(c, dict) and c.get("type") == "text" else {"type": "text", "content": str(c)} for c in content]
    for call in getattr(message, "tool_calls", None) or []:
        parts.append({"type": "tool_call", "id": call.get("id"), "name": call.get("name"), "arguments": call.get("args")})
    if role == "tool":
        parts = [{"type": "tool_call_response", "id": getattr(message, "tool_call_id", None), "response": content}]
    return {"role": role, "parts": parts}


def _result_attributes(response: Any, capture: bool) -> dict[str, Any]:
    """Usage, response model and id, finish reasons and output messages from an ``LLMResult``."""
    attributes: dict[str, Any] = {}
    generations = [g for batch in getattr(response, "generations", None) or [] for g in batch]
    message = getattr(generations[0], "message", None) if generations else None
    usage = getattr(message, "usage_metadata", None) or {}
    if isinstance(usage.get("input_tokens"), int):
        attributes[GenAI.GEN_AI_USAGE_INPUT_TOKENS] = usage["input_tokens"]
    if isinstance(usage.get("output_tokens"), int):
        attributes[GenAI.GEN_AI_USAGE_OUTPUT_TOKENS] = usage["output_tokens"]
    metadata = getattr(message, "response_metadata", None) or {}
    if metadata.get("model_name"):
        attributes[GenAI.GEN_AI_RESPONSE_MODEL] = str(metadata["model_name"])
    if metadata.get("id"):
        attributes[GenAI.GEN_AI_RESPONSE_ID] = str(metadata["id"])
    if metadata.get("finish_reason"):
        attributes[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] = (str(metadata["finish_reason"]),)
    if capture and message is not None:
        output = _message(message)
        if metadata.get("finish_reason"):
            output["finish_reason"] = str(metadata["finish_reason"])
        attributes[GenAI.GEN_AI_OUTPUT_MESSAGES] = _json([output])
    return attributes


class _Always:
    """What LangChain's configure hook reads like a context variable: our handler for every run, in every
    thread and task, while it is enabled."""

    def __init__(self, handler: AITracerCallbackHandler) -> None:
        self.handler = handler

    def get(self) -> AITracerCallbackHandler | None:
        return self.handler if self.handler.enabled else None


_installed: list[AITracerCallbackHandler] = []


def install(tracer_provider: TracerProvider | None = None, capture_content: bool = True) -> AITracerCallbackHandler:
    """Add the handler to every LangChain and LangGraph run of this process, once; returns it."""
    from langchain_core.tracers.context import register_configure_hook

    if _installed:
        _installed[0].enabled = True
        return _installed[0]
    handler = AITracerCallbackHandler(tracer_provider, capture_content)
    register_configure_hook(_Always(handler), inheritable=True)  # type: ignore[arg-type]
    _installed.append(handler)
    return handler


def uninstall() -> None:
    """Stop tracing runs (LangChain keeps the hook; it yields nothing while off)."""
    if _installed:
        _installed[0].enabled = False
