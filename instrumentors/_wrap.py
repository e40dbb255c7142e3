"""The wrapt wrappers every patched SDK method gets, sync and async side by side.

A provider describes each method once as an :class:`Operation` (request
attributes before the call, response attributes or a stream proxy after);
the wrappers here own the span's life, so every provider starts, activates,
fails and ends spans the same way, and a telemetry failure never reaches the
application.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import weakref
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Collection, Protocol

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]  # mypy misses it (it is in __all__)
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import Tracer

from ._events import GenAIEvents
from ._genai import IN_CALL, LLMCall, capture_content_enabled, set_binary_content
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

    __slots__ = ("tracer", "metrics", "events", "capture", "marker")

    def __init__(self, tracer: Tracer, metrics: GenAIMetrics | None, capture: bool, marker: str | None = None, events: GenAIEvents | None = None) -> None:
        self.tracer = tracer
        self.metrics = metrics
        self.events = events
        self.capture = capture
        self.marker = marker  # OURS for an SDK that would otherwise trace the same call itself

    @classmethod
    def from_options(cls, options: dict[str, Any], scope: str, version: str, marker: str | None = None) -> Instruments:
        """From ``instrument()``'s ``tracer_provider``, ``meter_provider``, ``logger_provider``, ``capture_content``
        and ``binary_content`` (``placeholder`` or ``base64``: how captured inline media is written)."""
        set_binary_content(options.get("binary_content"))
        return cls(
            trace.get_tracer(scope, version, options.get("tracer_provider")),
            GenAIMetrics(options.get("meter_provider"), scope, version),
            capture_content_enabled(options.get("capture_content")),
            marker,
            GenAIEvents(options.get("logger_provider"), scope, version),
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
        call = LLMCall(tools.tracer, operation, model, attrs, tools.metrics, tools.events)
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


CallScope = Callable[[dict[str, Any]], AbstractContextManager[object]]


@dataclass(frozen=True)
class Patch:
    """One SDK method an instrumentor traces: the one list both ``instrument()`` and ``instrument_client()`` apply."""

    module: str  # where the class lives
    cls: str
    method: str
    wrapper: Callable[[Instruments], Callable[..., Any]]  # builds the wrapt wrapper from the instrumentor's tools
    path: str | None = None  # attributes from a client to an instance of ``cls`` ("" = the object itself); None: classes only
    is_async: bool = False


class TableInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """A ``BaseInstrumentor`` driven by a patch table: classes with ``instrument()``, one client with ``instrument_client()``."""

    _package = ""
    _sdk_modules: tuple[str, ...] = ()  # importing any of these (the SDK) is when its methods get patched
    _scope = ""
    _version = "0.1.0"
    _marker: str | None = None
    _clients: weakref.WeakKeyDictionary[Any, list[tuple[Any, str]]] = weakref.WeakKeyDictionary()

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _table(self) -> list[Patch]:
        """Every method this instrumentor traces, for the installed SDK version (empty when it is missing)."""
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        """Patch nothing yet: when (or if) the app imports the SDK, its table is built and each class is
        patched once its module is imported (at once for what already is). Importing an SDK here would
        cost start-up to every app that has it installed, used or not."""
        self._patches = Patches(self._package)
        tools = Instruments.from_options(kwargs, self._scope, self._version, self._marker)
        tabled: list[bool] = []
        if not any(_installed(module) for module in self.sdk_modules()):
            _logger.info("%s is not installed; %s does nothing", self._package, type(self).__name__)
        for module in self.sdk_modules():
            wrapt.register_post_import_hook(partial(self._sdk_imported, tools, tabled), module)

    @classmethod
    def sdk_modules(cls) -> tuple[str, ...]:
        """The SDK's import names; any of them being importable makes this instrumentor worth loading."""
        return cls._sdk_modules

    def _sdk_imported(self, tools: Instruments, tabled: list[bool], module: object) -> None:
        if tabled or self._patches.closed:  # once, and not after uninstrument()
            return
        tabled.append(True)
        for patch in self._table():
            wrapt.register_post_import_hook(partial(self._patch_imported, patch, tools), patch.module)

    def _patch_imported(self, patch: Patch, tools: Instruments, module: object) -> None:
        self._patch_class(patch, tools)

    def _patch_class(self, patch: Patch, tools: Instruments) -> None:
        if not self._patches.closed:  # a post-import hook may fire after uninstrument()
            self._patches.wrap(patch.module, patch.cls, patch.method, patch.wrapper(tools))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patches.unwrap_all()

    def instrument_client(
        self, client: Any, tracer_provider: Any = None, meter_provider: Any = None, *, capture_content: bool | None = None, call_scope: CallScope | None = None,
        logger_provider: Any = None,
    ) -> Any:
        """Trace this client instance only, with the same table ``instrument()`` applies to classes.

        ``call_scope(kwargs)``, if given, is entered around each call before its span starts (and may change ``kwargs``).
        """
        options = {"tracer_provider": tracer_provider, "meter_provider": meter_provider, "logger_provider": logger_provider, "capture_content": capture_content}
        tools = Instruments.from_options(options, self._scope, self._version, self._marker)
        try:
            patched = self._clients.setdefault(client, [])
        except TypeError:  # not weakly referenceable: no SDK client, so nothing below will match
            patched = []
        for patch in self._table():
            target = _resolve(client, patch.path)
            if target is None or patch.method in vars(target) or not isinstance(target, _class(patch, self.sdk_modules())):
                continue
            wrapt.wrap_function_wrapper(target, patch.method, _scoped(patch.wrapper(tools), call_scope, patch.is_async))
            patched.append((target, patch.method))
        if patched:
            self._prepare_client(client)
        return client

    def is_instrumented_client(self, client: Any) -> bool:
        """Whether :meth:`instrument_client` patched anything on ``client``."""
        try:
            return bool(self._clients.get(client))
        except TypeError:
            return False

    def uninstrument_client(self, client: Any) -> None:
        """Undo :meth:`instrument_client` for this client."""
        try:
            patched = self._clients.pop(client, [])
        except TypeError:
            return
        for target, method in patched:
            vars(target).pop(method, None)

    def _prepare_client(self, client: Any) -> None:
        """What an SDK needs besides the patches for one instrumented client (nothing by default)."""


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package, or a module set to None in sys.modules
        return False


def _resolve(client: Any, path: str | None) -> Any:
    if path is None:
        return None
    target = client
    for name in filter(None, path.split(".")):
        target = getattr(target, name, None)
        if target is None:
            return None
    return target if hasattr(target, "__dict__") else None


def _class(patch: Patch, sdk_modules: tuple[str, ...]) -> type | tuple[()]:
    """The patched class, or ``()`` (matches nothing) when it does not exist. Its module is imported only
    when its SDK already is (a submodule the SDK loads lazily), never another SDK of the same instrumentor."""
    module = sys.modules.get(patch.module)
    if module is None and any(patch.module.startswith(root) and root in sys.modules for root in sdk_modules):
        try:
            module = importlib.import_module(patch.module)
        except ImportError:
            return ()
    found = getattr(module, patch.cls, None)
    return found if isinstance(found, type) else ()


def _scoped(wrapper: Callable[..., Any], call_scope: CallScope | None, is_async: bool) -> Callable[..., Any]:
    if call_scope is None:
        return wrapper
    if is_async:

        async def async_scoped(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            with call_scope(kwargs):
                return await wrapper(wrapped, instance, args, kwargs)

        return async_scoped

    def scoped(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with call_scope(kwargs):
            return wrapper(wrapped, instance, args, kwargs)

    return scoped
