"""``register()``: one call at startup wires the processor, the provider and the instrumentors
(``register_agents_tracing()`` does the same for the OpenAI Agents SDK)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import wrapt
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from ._fork import new_lock
from ._frameworks import FRAMEWORKS, bridge_agents, installed, on_import, turn_off
from ._instrumentors import INSTRUMENTORS, load_instrumentor
from ._pii import PIIRedactor
from ._processor import AITracerSpanProcessor
from ._scope._current import current_pipeline, set_current_pipeline
from .exceptions import ConfigurationError

_logger = logging.getLogger(__name__)

_lock = new_lock()


@dataclass
class Pipeline:
    """What ``register()`` set up; ``flush()`` before a short-lived process exits."""

    tracer_provider: TracerProvider
    processor: AITracerSpanProcessor
    instrumented: list[str] = field(default_factory=list)
    frameworks: list[str] = field(default_factory=list)  # installed, and traced once the app imports them
    shut_down: bool = False
    _instrumentors: list[Any] = field(default_factory=list, repr=False)

    def flush(self, timeout: float = 30.0) -> bool:
        return self.processor.force_flush(int(timeout * 1000))

    def stats(self) -> dict[str, Any]:
        return self.processor.stats()

    def shutdown(self) -> None:
        """Flush, stop the worker and undo the instrumentation; ``register()`` may be called again."""
        with _lock:
            self.shut_down = True
            for instrumentor in self._instrumentors:
                instrumentor.uninstrument()
            for name in self.frameworks:
                turn_off(name)
            self.processor.shutdown()
            if current_pipeline() is self:
                set_current_pipeline(None)


def register(
    project: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    store: str | os.PathLike[str] | None = None,
    pii_detection: bool | None = None,
    pii_action: str | None = None,
    pii_types: list[str] | None = None,
    capture_content: bool | None = None,
    instrument: bool | Sequence[str] = True,
    agents: bool = True,
    frameworks: bool | Sequence[str] = True,
    tracer_provider: TracerProvider | None = None,
    sync: bool = False,
    environment: str | None = None,
    *,
    redactor: PIIRedactor | None = None,
    decision_log: str | os.PathLike[str] | None = None,
    jsonl_mirror: str | os.PathLike[str] | None = None,
    store_raw_prompt: bool = False,
    store_raw_response: bool = False,
    alerts: str | os.PathLike[str] | None = None,
) -> Pipeline:
    """Record every LLM call of this process; idempotent (a second call returns the first pipeline).

    Reuses the global SDK ``TracerProvider`` when the application has one, so
    its other exporters keep working; otherwise creates and installs one.
    ``frameworks`` (all, or a list of ``openai_agents``, ``pydantic_ai``, ``langgraph``) traces each installed agent framework
    once the app imports it; ``agents=False`` leaves the OpenAI Agents SDK out (see
    :func:`otel_aitracer.register_agents_tracing`).
    ``decision_log`` / ``jsonl_mirror`` (or ``AITRACER_DECISION_LOG`` / ``AITRACER_JSONL_MIRROR``) keep the
    audit trail of agent runs: hash-chained decision records per model call, and their spans' starts and ends.
    ``alerts`` (or ``AITRACER_ALERTS``): the alerts file (TOML) whose rules are checked as records are written.
    """
    with _lock:
        if (current := current_pipeline()) is not None:
            return current
        names = _chosen(instrument, INSTRUMENTORS, "instrumentors")
        chosen = [n for n in _chosen(frameworks, FRAMEWORKS, "frameworks") if agents or n != "openai_agents"]
        processor = AITracerSpanProcessor(
            project, api_key, base_url, store, pii_detection, pii_action, pii_types, capture_content, sync, environment, redactor=redactor,
            decision_log=decision_log, jsonl_mirror=jsonl_mirror, store_raw_prompt=store_raw_prompt, store_raw_response=store_raw_response,
            alerts=alerts,
        )  # fmt: skip
        provider = tracer_provider or _global_sdk_provider() or _install_provider(processor.settings.environment)
        provider.add_span_processor(processor)
        pipeline = Pipeline(provider, processor)
        for name in names:
            instrumentor = load_instrumentor(name)
            if instrumentor is None:
                continue
            pipeline.instrumented.append(name)
            # An SDK the application instrumented itself stays as it is, and stays after shutdown().
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=provider, capture_content=processor.settings.capture_content)
                pipeline._instrumentors.append(instrumentor)
        pipeline.frameworks = [n for n in chosen if installed(n)]
        _logger.info("otel-aitracer: recording to %s; instrumented %s", processor.settings.destination, pipeline.instrumented or "nothing")
        set_current_pipeline(pipeline)
    for name in pipeline.frameworks:
        # When (or if) the app imports it: importing it here would cost every app that has it installed.
        wrapt.register_post_import_hook(on_import(name, pipeline), FRAMEWORKS[name][0])
    return pipeline




def _chosen(choice: bool | Sequence[str] | None, known: Mapping[str, object], what: str) -> list[str]:
    """The names ``register(instrument=...)`` / ``register(frameworks=...)`` ask for: all, none or a list."""
    if choice is True:
        return list(known)
    if choice is False or choice is None:
        return []
    unknown = [n for n in choice if n not in known]
    if unknown:
        raise ConfigurationError(f"unknown {what} {unknown}; known: {', '.join(known)}")
    return list(choice)


def _global_sdk_provider() -> TracerProvider | None:
    provider = trace.get_tracer_provider()
    return provider if isinstance(provider, TracerProvider) else None


def _install_provider(environment: str | None) -> TracerProvider:
    attributes = {"deployment.environment.name": environment} if environment else {}
    provider = TracerProvider(resource=Resource.create(attributes))
    trace.set_tracer_provider(provider)
    return provider


# ---- the OpenAI Agents SDK: outside otel_aitracer.agents on purpose (that package imports the SDK) ----


def register_agents_tracing(
    base_url: str | None = None, api_key: str | None = None, environment: str | None = None, replace_default: bool = False
) -> Any:
    """Bridge every Agents SDK run into the pipeline (set up by ``register()`` if not yet); idempotent.

    ``replace_default=True`` removes the SDK's default upload to OpenAI (``set_trace_processors``);
    otherwise ours is added beside it (``add_trace_processor``). Returns the processor.
    """
    pipeline = current_pipeline() or register(api_key=api_key, base_url=base_url, environment=environment, agents=False)
    return bridge_agents(pipeline, replace_default)
