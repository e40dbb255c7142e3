"""Agents SDK traces and spans as OpenTelemetry GenAI spans.

The SDK calls a ``TracingProcessor`` synchronously on the thread or task that
starts or ends each of its spans. We open the OTel span on start (parented by
an explicit map from SDK ids, never by whatever context happens to be current),
make it current so spans our provider instrumentors open during the step nest
under it, and fill it on end, when the SDK has filled its data.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import orjson
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

from .._attributes import METADATA_ATTRIBUTE, STEP_INDEX
from .._fork import new_lock
from .._scope._context import _Run
from .._scope._stamping import model_call_context

_logger = logging.getLogger(__name__)

AGENTS_TRACE_ID = "openai.agents.trace_id"
_WORKFLOW = GenAI.GenAiOperationNameValues.INVOKE_WORKFLOW.value
_AGENT = GenAI.GenAiOperationNameValues.INVOKE_AGENT.value
_TOOL = GenAI.GenAiOperationNameValues.EXECUTE_TOOL.value
_CHAT = GenAI.GenAiOperationNameValues.CHAT.value


def _ns(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1e9)
    except ValueError:
        return None


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class _Open:
    """An SDK span's OTel span; ``owned`` is False for a step left to a provider instrumentor,
    which borrows its parent's span so that its children still find a parent."""

    __slots__ = ("span", "token", "owned")

    def __init__(self, span: Span, token: otel_context.Token[otel_context.Context] | None, owned: bool = True) -> None:
        self.span = span
        self.token = token
        self.owned = owned


class Bridge:
    """The state behind :class:`AITracerTracingProcessor`: open spans by SDK id, step counters by trace."""

    def __init__(self, tracer_provider: TracerProvider | None, capture_content: bool, llm_spans: Any) -> None:
        self._tracer = trace.get_tracer("otel_aitracer.agents", None, tracer_provider)
        self._capture = capture_content
        self._llm_spans = llm_spans  # () -> bool: emit chat spans ourselves (no provider instrumentor does)
        self._lock = new_lock()
        self._open: dict[str, _Open] = {}
        self._runs: dict[str, _Run] = {}  # agents trace id -> its step counter

    # ---- traces ---------------------------------------------------------------------------------
    def trace_start(self, t: Any) -> None:
        name = getattr(t, "name", None) or "Agent workflow"
        attrs: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: _WORKFLOW, GenAI.GEN_AI_WORKFLOW_NAME: name, AGENTS_TRACE_ID: t.trace_id}
        if getattr(t, "group_id", None):
            attrs[GenAI.GEN_AI_CONVERSATION_ID] = str(t.group_id)
        if getattr(t, "metadata", None):
            attrs[METADATA_ATTRIBUTE] = _json(t.metadata)
        # No explicit context: the workflow nests under the app's span current at Runner.run.
        span = self._tracer.start_span(f"{_WORKFLOW} {name}", kind=SpanKind.INTERNAL, attributes=attrs)
        with self._lock:
            self._open[t.trace_id] = _Open(span, None)
            self._runs[t.trace_id] = _Run(t.trace_id)

    def trace_end(self, t: Any) -> None:
        with self._lock:
            entry = self._open.pop(t.trace_id, None)
            self._runs.pop(t.trace_id, None)
        if entry is not None:
            entry.span.end()

    # ---- spans ----------------------------------------------------------------------------------
    def span_start(self, s: Any) -> None:
        data = s.span_data
        kind = getattr(data, "type", "custom")
        with self._lock:
            parent = self._open.get(s.parent_id or "") or self._open.get(s.trace_id)
        if kind in ("generation", "response") and not self._llm_spans():
            # A provider instrumentor makes this call's span; it nests under the parent we made current and gets
            # the run's next step from the context (the agent and conversation it inherits from its parent).
            if parent is not None:
                with self._lock:
                    run = self._runs.setdefault(s.trace_id, _Run(s.trace_id))
                token = otel_context.attach(model_call_context({STEP_INDEX: run.take_step()[0]}, trace.set_span_in_context(parent.span)))
                with self._lock:
                    self._open[s.span_id] = _Open(parent.span, token, owned=False)
            return
        name, span_kind, attrs = _start_shape(kind, data)
        if attrs.get(GenAI.GEN_AI_OPERATION_NAME) in (_AGENT, _TOOL, _CHAT):
            with self._lock:
                run = self._runs.setdefault(s.trace_id, _Run(s.trace_id))
            attrs[STEP_INDEX] = run.take_step()[0]
        context = trace.set_span_in_context(parent.span) if parent is not None else None
        span = self._tracer.start_span(name, context=context, kind=span_kind, attributes=attrs, start_time=_ns(s.started_at))
        token = otel_context.attach(trace.set_span_in_context(span))
        with self._lock:
            self._open[s.span_id] = _Open(span, token)

    def span_end(self, s: Any) -> None:
        with self._lock:
            entry = self._open.pop(s.span_id, None)
        if entry is None:
            return
        if not entry.owned:
            _detach(entry.token)
            return
        span = entry.span
        try:
            attributes = _end_attributes(s.span_data, self._capture)
            span.set_attributes(attributes)
            model = attributes.get(GenAI.GEN_AI_REQUEST_MODEL)
            if model and getattr(span, "name", None) == _CHAT:  # a response span learns its model at the end
                span.update_name(f"{_CHAT} {model}")
            if s.error:
                message = s.error.get("message") if isinstance(s.error, dict) else str(s.error)
                span.set_attribute("error.type", str(message or "error"))
                span.set_status(Status(StatusCode.ERROR, _json(s.error)))
        finally:
            _detach(entry.token)
            span.end(end_time=_ns(s.ended_at))

    def close_all(self) -> None:
        """End whatever is still open (shutdown): traces that never ended are not left dangling."""
        with self._lock:
            entries = list(self._open.values())
            self._open.clear()
            self._runs.clear()
        for entry in entries:
            if entry.owned and entry.span.is_recording():
                entry.span.end()


def _detach(token: otel_context.Token[otel_context.Context] | None) -> None:
    if token is not None:
        try:
            otel_context.detach(token)
        except Exception:  # noqa: BLE001 - a context from another task: nothing to undo here
            _logger.debug("could not detach an agents span's context", exc_info=True)


def _start_shape(kind: str, data: Any) -> tuple[str, SpanKind, dict[str, Any]]:
    """Span name, kind and the attributes known when the SDK span starts (names only)."""
    name = getattr(data, "name", None) or kind
    if kind == "agent":
        return f"{_AGENT} {name}", SpanKind.INTERNAL, {GenAI.GEN_AI_OPERATION_NAME: _AGENT, GenAI.GEN_AI_AGENT_NAME: name}
    if kind == "function":
        return f"{_TOOL} {name}", SpanKind.INTERNAL, {GenAI.GEN_AI_OPERATION_NAME: _TOOL, GenAI.GEN_AI_TOOL_NAME: name, GenAI.GEN_AI_TOOL_TYPE: "function"}
    if kind in ("generation", "response"):
        model = getattr(data, "model", None)
        attrs = {GenAI.GEN_AI_OPERATION_NAME: _CHAT, GenAI.GEN_AI_PROVIDER_NAME: GenAI.GenAiProviderNameValues.OPENAI.value}
        if model:
            attrs[GenAI.GEN_AI_REQUEST_MODEL] = str(model)
        return f"{_CHAT} {model}" if model else _CHAT, SpanKind.CLIENT, attrs
    return name if kind == "custom" else kind, SpanKind.INTERNAL, {"openai.agents.span_type": kind}


def _end_attributes(data: Any, capture: bool) -> dict[str, Any]:
    """What the SDK filled in by the end of its span; content only when captured and included."""
    kind = getattr(data, "type", "custom")
    attrs: dict[str, Any] = {}
    if kind == "agent":
        if getattr(data, "tools", None):
            attrs["openai.agents.tools"] = list(data.tools)
        if getattr(data, "handoffs", None):
            attrs["openai.agents.handoffs"] = list(data.handoffs)
        if getattr(data, "output_type", None):
            attrs["openai.agents.output_type"] = str(data.output_type)
    elif kind == "function":
        if capture and getattr(data, "input", None) is not None:
            attrs[GenAI.GEN_AI_TOOL_CALL_ARGUMENTS] = data.input if isinstance(data.input, str) else _json(data.input)
        if capture and getattr(data, "output", None) is not None:
            attrs[GenAI.GEN_AI_TOOL_CALL_RESULT] = data.output if isinstance(data.output, str) else _json(data.output)
    elif kind in ("generation", "response"):
        attrs.update(_llm_end_attributes(data, capture))
    elif kind == "handoff":
        attrs.update({"openai.agents.handoff.from": str(getattr(data, "from_agent", "")), "openai.agents.handoff.to": str(getattr(data, "to_agent", ""))})
    elif kind == "guardrail":
        attrs.update({"openai.agents.guardrail.name": str(getattr(data, "name", "")), "openai.agents.guardrail.triggered": bool(getattr(data, "triggered", False))})
    elif kind == "custom" and getattr(data, "data", None):
        attrs["openai.agents.custom.data"] = _json(data.data)
    return attrs


def _llm_end_attributes(data: Any, capture: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    usage = getattr(data, "usage", None) or {}
    response = getattr(data, "response", None)
    if response is not None:
        attrs[GenAI.GEN_AI_RESPONSE_MODEL] = getattr(response, "model", None) or ""
        attrs[GenAI.GEN_AI_REQUEST_MODEL] = getattr(response, "model", None) or ""
        usage = usage or _as_usage(getattr(response, "usage", None))
    if isinstance(usage, dict):
        if isinstance(usage.get("input_tokens"), int):
            attrs[GenAI.GEN_AI_USAGE_INPUT_TOKENS] = usage["input_tokens"]
        if isinstance(usage.get("output_tokens"), int):
            attrs[GenAI.GEN_AI_USAGE_OUTPUT_TOKENS] = usage["output_tokens"]
    if capture:
        if getattr(data, "input", None):
            attrs[GenAI.GEN_AI_INPUT_MESSAGES] = _json(data.input)
        if getattr(data, "output", None):
            attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = _json(data.output)
        if response is not None and getattr(response, "instructions", None):
            attrs[GenAI.GEN_AI_SYSTEM_INSTRUCTIONS] = _json([{"type": "text", "content": response.instructions}])
    return {k: v for k, v in attrs.items() if v not in ("", None)}


def _as_usage(usage: Any) -> dict[str, Any]:
    if usage is None:
        return {}
    return {"input_tokens": getattr(usage, "input_tokens", None), "output_tokens": getattr(usage, "output_tokens", None)}
