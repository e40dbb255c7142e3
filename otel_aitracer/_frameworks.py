"""The agent frameworks ``register()`` traces, each turned on when (or if) the app imports it (a post-import
hook: an app that merely has one installed pays nothing).

- ``openai_agents``: the Agents SDK has its own trace model; :mod:`otel_aitracer.agents` bridges it.
- ``pydantic_ai``: Pydantic AI's own OpenTelemetry spans (agent run, model request, tool), turned on with
  ``Agent.instrument_all`` on the pipeline's provider, unless the app already turned them on itself.
- ``langgraph``: LangChain has no OpenTelemetry; :mod:`otel_aitracer.langchain`'s callback handler makes
  the tree, added to every run once the app imports ``langchain_core`` (LangGraph and LangChain alike).
- ``google_adk`` and ``strands``: both trace themselves into the global provider (the pipeline's) whenever
  they run; ADK puts content on its spans only when the conventions' content variable asks, so with
  content capture on, that variable is set for it (unless the app set it).

Their spans meet the provider instrumentors through the conventions' rule: the first instrumentation to
handle a model call owns it, and ours, nested in a framework's model span, only adds to it
(``instrumentors._genai.LLMCall``); model and tool calls inside a framework's agent span are numbered as
steps (``_scope._stamping``).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from instrumentors._genai import CAPTURE_CONTENT_ENV

from ._fork import new_lock
from ._guard import guarded, warn_once
from ._instrumentors import findable


def installed(name: str) -> bool:
    return findable(FRAMEWORKS[name][0])


def on_import(name: str, pipeline: Any) -> Callable[[Any], None]:
    """The post-import hook that turns ``name`` on for ``pipeline`` (a failure is logged once, never raised)."""

    def turn_on(module: Any) -> None:
        with guarded(f"{name} tracing"):  # tracing is extra: its failure must not stop the app
            if not pipeline.shut_down:
                FRAMEWORKS[name][1](pipeline)

    return turn_on


def turn_off(name: str) -> None:
    """Undo what turning ``name`` on did, where it can be undone (``shutdown()``)."""
    FRAMEWORKS[name][2]()


_agents_lock = new_lock()
_agents_bridge: list[Any] = []  # the one AITracerTracingProcessor, once made


def bridge_agents(pipeline: Any, replace_default: bool = False) -> Any:
    """Add the Agents SDK bridge for ``pipeline`` (once per process); with ``replace_default``, drop the
    SDK's default upload to OpenAI. Returns the bridge."""
    from agents.tracing import add_trace_processor, get_trace_provider, set_trace_processors

    from .agents import AITracerTracingProcessor

    with _agents_lock:
        if not _agents_bridge:
            _agents_bridge.append(AITracerTracingProcessor(pipeline.tracer_provider, pipeline.processor.settings.capture_content))
            add_trace_processor(_agents_bridge[0])
            _warn_if_disabled(get_trace_provider())
        if replace_default:  # also when register()'s import hook bridged first, keeping the default upload
            set_trace_processors([_agents_bridge[0]])
        return _agents_bridge[0]


def _warn_if_disabled(provider: Any) -> None:
    if getattr(provider, "_disabled", False):
        warn_once(
            "agents tracing disabled",
            "openai-agents tracing is disabled (set_tracing_disabled or OPENAI_AGENTS_DISABLE_TRACING), "
            "so the otel-aitracer bridge receives nothing either",
        )


def _openai_agents(pipeline: Any) -> None:
    bridge_agents(pipeline)


def _keep(*_: Any) -> None:
    """Nothing to undo: the Agents SDK cannot remove a trace processor (it stays, writing to no pipeline)."""


_pydantic_ai_ours: list[bool] = []  # whether instrument_all was ours to undo


def _pydantic_ai(pipeline: Any) -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.instrumented import InstrumentationSettings

    if getattr(Agent, "_instrument_default", False) is not False:  # the app turned it on, with its own settings
        return
    settings = InstrumentationSettings(tracer_provider=pipeline.tracer_provider, include_content=pipeline.processor.settings.capture_content)
    Agent.instrument_all(settings)
    _pydantic_ai_ours.append(True)


def _pydantic_ai_off() -> None:
    if _pydantic_ai_ours:
        from pydantic_ai import Agent

        Agent.instrument_all(False)
        _pydantic_ai_ours.clear()


def _langgraph(pipeline: Any) -> None:
    from .langchain import install

    install(pipeline.tracer_provider, pipeline.processor.settings.capture_content)


def _langgraph_off() -> None:
    if "otel_aitracer.langchain" in sys.modules:
        from .langchain._handler import uninstall

        uninstall()


_adk_content: list[str] = []  # the content mode we set for ADK (to unset it again)


def _google_adk(pipeline: Any) -> None:
    if pipeline.processor.settings.capture_content and CAPTURE_CONTENT_ENV not in os.environ:
        os.environ[CAPTURE_CONTENT_ENV] = "SPAN_ONLY"  # ADK reads it for each run; "true" would mean log events only
        _adk_content.append("SPAN_ONLY")


def _google_adk_off() -> None:
    if _adk_content:
        _adk_content.clear()
        os.environ.pop(CAPTURE_CONTENT_ENV, None)


def _strands(pipeline: Any) -> None:
    """Nothing to turn on: Strands traces into the global provider, which is the pipeline's."""


# name -> (the module whose import turns it on, what turns it on, what turns it off again)
FRAMEWORKS: dict[str, tuple[str, Callable[[Any], None], Callable[[], None]]] = {
    "openai_agents": ("agents", _openai_agents, _keep),
    "pydantic_ai": ("pydantic_ai", _pydantic_ai, _pydantic_ai_off),
    "langgraph": ("langchain_core", _langgraph, _langgraph_off),
    "google_adk": ("google.adk", _google_adk, _google_adk_off),
    "strands": ("strands", _strands, _keep),
}
