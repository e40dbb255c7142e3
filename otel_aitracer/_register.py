"""``register()``: one call at startup wires the processor, the provider and the instrumentors."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

import wrapt
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from ._pii import PIIRedactor
from ._processor import AITracerSpanProcessor
from .exceptions import ConfigurationError

_logger = logging.getLogger(__name__)

# name -> (module that must be importable, instrumentor module, class)
# name -> (SDK modules, any of which makes it worth instrumenting; instrumentor module; class)
INSTRUMENTORS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "openai": (("openai",), "instrumentors.openai", "OpenAIInstrumentor"),
    "anthropic": (("anthropic",), "instrumentors.anthropic", "AnthropicInstrumentor"),
    "google_genai": (("google.genai", "google.generativeai"), "instrumentors.google_genai", "GoogleGenAIInstrumentor"),
}

_lock = threading.Lock()
_current: Pipeline | None = None


@dataclass
class Pipeline:
    """What ``register()`` set up; ``flush()`` before a short-lived process exits."""

    tracer_provider: TracerProvider
    processor: AITracerSpanProcessor
    instrumented: list[str] = field(default_factory=list)
    _instrumentors: list[Any] = field(default_factory=list, repr=False)

    def flush(self, timeout: float = 30.0) -> bool:
        return self.processor.force_flush(int(timeout * 1000))

    def stats(self) -> dict[str, Any]:
        return self.processor.stats()

    def shutdown(self) -> None:
        """Flush, stop the worker and undo the instrumentation; ``register()`` may be called again."""
        global _current
        with _lock:
            for instrumentor in self._instrumentors:
                instrumentor.uninstrument()
            self.processor.shutdown()
            if _current is self:
                _current = None


def register(
    project: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    store: str | os.PathLike[str] | None = None,
    pii_detection: bool | None = None,
    pii_action: str | None = None,
    pii_types: list[str] | None = None,
    capture_content: bool = True,
    instrument: bool | Sequence[str] = True,
    agents: bool = True,
    tracer_provider: TracerProvider | None = None,
    sync: bool = False,
    environment: str | None = None,
    *,
    redactor: PIIRedactor | None = None,
) -> Pipeline:
    """Record every LLM call of this process; idempotent (a second call returns the first pipeline).

    Reuses the global SDK ``TracerProvider`` when the application has one, so
    its other exporters keep working; otherwise creates and installs one.
    ``agents`` bridges openai-agents runs (see :func:`otel_aitracer.register_agents_tracing`) when installed.
    """
    global _current
    with _lock:
        if _current is not None:
            return _current
        names = _instrument_names(instrument)
        processor = AITracerSpanProcessor(
            project, api_key, base_url, store, pii_detection, pii_action, pii_types, capture_content, sync, environment, redactor=redactor
        )
        provider = tracer_provider or _global_sdk_provider() or _install_provider(processor.settings.environment)
        provider.add_span_processor(processor)
        pipeline = Pipeline(provider, processor)
        for name in names:
            instrumentor = _load_instrumentor(name)
            if instrumentor is None:
                continue
            pipeline.instrumented.append(name)
            # An SDK the application instrumented itself stays as it is, and stays after shutdown().
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=provider, capture_content=capture_content)
                pipeline._instrumentors.append(instrumentor)
        _logger.info("otel-aitracer: recording to %s; instrumented %s", processor.settings.destination, pipeline.instrumented or "nothing")
        _current = pipeline
    if agents and _findable("agents"):
        # When (or if) the app imports the Agents SDK: importing it here would cost every app that has it installed.
        wrapt.register_post_import_hook(_bridge_agents, "agents")
    return pipeline


def _bridge_agents(module: Any) -> None:
    from ._agents_setup import register_agents_tracing

    try:
        register_agents_tracing()
    except Exception:  # noqa: BLE001 - the bridge is extra: its failure must not stop the app
        _logger.warning("otel-aitracer: could not bridge openai-agents tracing", exc_info=True)


def current_pipeline() -> Pipeline | None:
    return _current


def _instrument_names(instrument: bool | Sequence[str]) -> list[str]:
    if instrument is True:
        return list(INSTRUMENTORS)
    if instrument is False or instrument is None:
        return []
    unknown = [n for n in instrument if n not in INSTRUMENTORS]
    if unknown:
        raise ConfigurationError(f"unknown instrumentors {unknown}; known: {', '.join(INSTRUMENTORS)}")
    return list(instrument)


def _global_sdk_provider() -> TracerProvider | None:
    provider = trace.get_tracer_provider()
    return provider if isinstance(provider, TracerProvider) else None


def _install_provider(environment: str | None) -> TracerProvider:
    attributes = {"deployment.environment.name": environment} if environment else {}
    provider = TracerProvider(resource=Resource.create(attributes))
    trace.set_tracer_provider(provider)
    return provider


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False


def _load_instrumentor(name: str) -> Any | None:
    """The instrumentor for one SDK if both are importable; None otherwise."""
    sdk_modules, module_name, class_name = INSTRUMENTORS[name]
    try:
        # find_spec, not import: importing an SDK the app never uses costs startup time.
        if not any(_findable(m) for m in sdk_modules):
            raise ImportError(sdk_modules[0])
        instrumentor_class = getattr(importlib.import_module(module_name), class_name)
    except ImportError:
        _logger.debug("not instrumenting %s: %s or its instrumentor is not installed", name, "/".join(sdk_modules))
        return None
    return instrumentor_class()
