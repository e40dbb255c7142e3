"""Scope stamping: the one place where the app's scope is written onto spans as they start.

``session()``, ``project()``, ``trace()``, ``set_metadata()``, ``run()`` / ``step()`` and an agent
run's conversation live in context variables; a span must carry them from its start, because
the mapping reads them back from the span (so spans that reach ``serve`` carry them too).
Every entry point installs this: :class:`AITracerSpanProcessor` is a ``ScopeSpanProcessor``,
and :class:`AITracerSpanExporter` (behind any processor, zero-code included) adds one to the
global provider it exports from.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from .._attributes import STEP_INDEX, STEP_NAME
from .._fork import new_lock
from .._guard import guarded
from .._record_kinds import ANSWERS, MODEL_CALLS, TOOL
from ._context import current_attributes, current_run, current_session

_OP = GenAI.GenAiOperationNameValues

_stamped_providers: weakref.WeakSet[TracerProvider] = weakref.WeakSet()
_STAMP = guarded("stamp")


class ScopeSpanProcessor(SpanProcessor):
    """Stamps session, user, project, metadata, tags, run step and conversation onto spans at start."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        with _STAMP:
            stamp(span, parent_context)


_INVOKE_AGENT = _OP.INVOKE_AGENT.value
_CONVENTIONS_OPERATIONS = frozenset(op.value for op in _OP)
_STEP_OPERATIONS = MODEL_CALLS | {TOOL}
_MAX_TRACKED_RUNS = 10_000
_agent_steps: OrderedDict[int, int] = OrderedDict()  # trace id -> steps numbered in it (framework agent runs)
_steps_lock = new_lock()

# Set in the context by a framework bridge around a model call it leaves to a provider instrumentor: the
# attributes (the call's step) that span gets, whichever instrumentation makes it.
MODEL_CALL = otel_context.create_key("otel_aitracer.model_call")
# What every span inside an agent run inherits from its parent, whichever layer makes it (SPEC §4).
_INHERITED = (GenAI.GEN_AI_CONVERSATION_ID, GenAI.GEN_AI_AGENT_NAME)


def model_call_context(attributes: dict[str, object], parent: Context | None = None) -> Context:
    """A context whose next LLM span (the model call a bridge leaves to an instrumentor) gets ``attributes``."""
    return otel_context.set_value(MODEL_CALL, attributes, parent)


def stamp(span: Span, parent_context: Context | None) -> None:
    stamped = current_attributes()
    if stamped:
        existing = span.attributes or {}
        span.set_attributes({k: v for k, v in stamped.items() if k not in existing})
    _inherit_agent_context(span, parent_context)
    _number_step(span, parent_context)
    _mark_last_response(span)


def install_stamping(provider: object | None = None) -> bool:
    """Add a :class:`ScopeSpanProcessor` to ``provider`` (default: the global one) once; False if it is no SDK provider."""
    provider = provider if provider is not None else trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return False
    if provider not in _stamped_providers:
        _stamped_providers.add(provider)
        processors = getattr(getattr(provider, "_active_span_processor", None), "_span_processors", ())
        if not any(isinstance(p, ScopeSpanProcessor) for p in processors):
            provider.add_span_processor(ScopeSpanProcessor())
    return True


def _inherit_agent_context(span: Span, parent_context: Context | None) -> None:
    """An agent run's conversation id (its ``group_id``) and agent name reach every span of the run, and a model
    call a bridge left to a provider instrumentor gets its step: so records of model calls made inside the run
    carry the run's session, agent and step whichever layer made their span."""
    existing = span.attributes or {}
    parent_attributes = getattr(trace.get_current_span(parent_context), "attributes", None) or {}
    inherited = {key: parent_attributes[key] for key in _INHERITED if key in parent_attributes and key not in existing}
    call = otel_context.get_value(MODEL_CALL, parent_context)
    if isinstance(call, dict) and existing.get(GenAI.GEN_AI_OPERATION_NAME) in MODEL_CALLS:
        inherited.update({key: value for key, value in call.items() if key not in existing})
    if inherited:
        span.set_attributes(inherited)


def _number_step(span: Span, parent_context: Context | None) -> None:
    """Inside ``run()``, each LLM call is the run's next step; inside another instrumentation's agent run (a
    framework's own tracing), each model call and tool call is its trace's next step (0, 1, 2… in start order),
    as the Agents SDK bridge numbers its own. Unless something already numbered it."""
    attributes = span.attributes or {}
    operation = operation_at_start(span)
    if STEP_INDEX in attributes or operation not in _STEP_OPERATIONS:
        return
    state = current_run()
    if state is not None:
        if operation in MODEL_CALLS:
            index, name = state.take_step()
            span.set_attributes({STEP_INDEX: index, STEP_NAME: name})
        return
    parent = trace.get_current_span(parent_context)
    if parent.is_recording() and _in_agent(getattr(parent, "attributes", None) or {}):
        span.set_attribute(STEP_INDEX, _next_agent_step(span.get_span_context().trace_id))


def _in_agent(attributes: Mapping[str, object]) -> bool:
    """An agent span, or a span inside one (every span of a run inherits its agent name): Strands puts its
    model and tool calls in an event-loop cycle span under the agent's."""
    return attributes.get(GenAI.GEN_AI_OPERATION_NAME) == _INVOKE_AGENT or GenAI.GEN_AI_AGENT_NAME in attributes


def operation_at_start(span: Span) -> str | None:
    """The span's ``gen_ai.operation.name``, or, where its maker sets that only after starting it (Google ADK,
    Strands), the conventions' operation its name starts with (they name a GenAI span ``{operation} {target}``)."""
    operation = (span.attributes or {}).get(GenAI.GEN_AI_OPERATION_NAME)
    if operation is None and span.name:
        first = span.name.split(" ", 1)[0]
        operation = first if first in _CONVENTIONS_OPERATIONS else None
    return operation if isinstance(operation, str) else None


def _next_agent_step(trace_id: int) -> int:
    with _steps_lock:
        index = _agent_steps.pop(trace_id, 0)
        _agent_steps[trace_id] = index + 1  # most recent last
        while len(_agent_steps) > _MAX_TRACKED_RUNS:
            _agent_steps.popitem(last=False)
    return index


def _mark_last_response(span: Span) -> None:
    """Inside ``session()``, this call becomes the response the session's feedback is about."""
    handle = current_session()
    if handle is not None and (span.attributes or {}).get(GenAI.GEN_AI_OPERATION_NAME) in ANSWERS:  # the calls feedback is about
        handle.last_log_id = format(span.get_span_context().span_id, "016x")
