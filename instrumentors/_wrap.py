"""The wrapt wrappers every patched SDK method gets, sync and async side by side.

A provider describes each method once as an :class:`Operation` (request
attributes before the call, response attributes or a stream proxy after);
the wrappers here own the span's life, so every provider starts, activates,
fails and ends spans the same way, and a telemetry failure never reaches the
application.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Callable, Protocol

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import Tracer

from ._genai import IN_CALL, LLMCall, capture_content_enabled
from ._metrics import GenAIMetrics

_logger = logging.getLogger(__name__)

# Set while one of our spans is current around an SDK call: an SDK that traces itself
# (anthropic 2.x) checks it and leaves the call to our span, so one call is one span.
OURS = otel_context.create_key("otel_aitracer.instrumented_call")


class Operation(Protocol):
    """How one SDK method becomes one GenAI span."""

    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        """``(operation name, request model, attributes)`` known before the call (content when ``capture``)."""
        ...

    def finish(self, call: LLMCall, result: Any, capture: bool) -> Any:
        """Set the response's attributes; return a proxy that ends the span later (a stream), else ``None``."""
        ...


class Instruments:
    """What the wrappers of one instrumentor share."""

    __slots__ = ("tracer", "metrics", "capture", "marker")

    def __init__(self, tracer: Tracer, metrics: GenAIMetrics | None, capture: bool, marker: str | None = None) -> None:
        self.tracer = tracer
        self.metrics = metrics
        self.capture = capture
        self.marker = marker  # OURS for an SDK that would otherwise trace the same call itself

    @classmethod
    def from_options(cls, options: dict[str, Any], scope: str, version: str, marker: str | None = None) -> Instruments:
        """From ``instrument()``'s ``tracer_provider``, ``meter_provider`` and ``capture_content``."""
        return cls(
            trace.get_tracer(scope, version, options.get("tracer_provider")),
            GenAIMetrics(options.get("meter_provider"), scope, version),
            capture_content_enabled(options.get("capture_content")),
            marker,
        )


def start_call(tools: Instruments, op: Operation, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall | None:
    """Start and activate the call's span; ``None`` (and a debug line) if that fails.

    Also ``None`` inside a call one of our wrappers already traces: two wrappers of the same
    method (a wrapped client instance whose class is instrumented too) make one span.
    """
    if otel_context.get_value(IN_CALL):
        return None
    try:
        operation, model, attrs = op.start(instance, args, kwargs, tools.capture)
        call = LLMCall(tools.tracer, operation, model, attrs, tools.metrics)
        call.activate(tools.marker)
        return call
    except Exception:  # noqa: BLE001 - never let telemetry break the call
        _logger.debug("failed to start a GenAI span for %r", op, exc_info=True)
        return None


def finish_call(tools: Instruments, op: Operation, call: LLMCall, result: Any) -> Any:
    """End the span with ``result``'s attributes, or hand it to the stream proxy ``op`` returns."""
    try:
        proxy = op.finish(call, result, tools.capture)
        if proxy is not None:
            return proxy
    except Exception:  # noqa: BLE001
        _logger.debug("failed to finish a GenAI span for %r", op, exc_info=True)
    call.end()
    return result


def sync_wrapper(tools: Instruments, op: Operation) -> Callable[..., Any]:
    def traced(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = start_call(tools, op, instance, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            call.deactivate()
        return finish_call(tools, op, call, result)

    return traced


def async_wrapper(tools: Instruments, op: Operation) -> Callable[..., Any]:
    async def traced(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = start_call(tools, op, instance, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            call.deactivate()
        return finish_call(tools, op, call, result)

    return traced


class Patches:
    """The methods one instrumentor patched, so ``uninstrument()`` restores exactly those."""

    def __init__(self, package: str) -> None:
        self._package = package
        self._patched: list[tuple[Any, str]] = []
        self.closed = False  # set by unwrap_all: a post-import hook must not patch after it

    def wrap(self, module: str, cls: str, method: str, wrapper: Callable[..., Any]) -> bool:
        """Patch ``module.cls.method`` when this SDK version has it (a missing one is logged, not raised)."""
        try:
            target = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError):
            _logger.info("%s has no %s.%s; that method is not instrumented", self._package, module, cls)
            return False
        if not hasattr(target, method):
            _logger.info("%s has no %s.%s.%s; that method is not instrumented", self._package, module, cls, method)
            return False
        wrapt.wrap_function_wrapper(target, method, wrapper)
        self._patched.append((target, method))
        return True

    def unwrap_all(self) -> None:
        self.closed = True
        for target, method in reversed(self._patched):
            unwrap(target, method)
        self._patched.clear()
