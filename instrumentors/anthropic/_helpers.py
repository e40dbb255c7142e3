"""``messages.stream(...)``: the SDK's context-manager stream helpers, sync and async.

The helper makes its request on ``__enter__`` and accumulates the message
itself, so the span starts there and ends on ``__exit__`` with the helper's
own final snapshot: no event is folded twice.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

import wrapt
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from .._genai import UNFINISHED, LLMCall
from .._wrap import Instruments, start_call
from ._messages import response_attributes

_logger = logging.getLogger(__name__)


class _CallHolder:
    """Ends its call once, whichever of ``__exit__`` and garbage collection comes first."""

    __slots__ = ("call", "started", "first_at", "__weakref__")

    def __init__(self) -> None:
        self.call: LLMCall | None = None
        self.started = time.monotonic()
        self.first_at: float | None = None  # when the helper read the stream's first event

    def end(self, stream: Any, capture: bool, error: BaseException | None) -> None:
        call, self.call = self.call, None
        if call is None:
            return
        try:
            message = _snapshot(stream)
            if message is not None:
                call.set_attributes(response_attributes(message, capture, UNFINISHED))
            if self.first_at is not None:
                call.set_attributes({GenAI.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: self.first_at - self.started})
        except Exception:  # noqa: BLE001
            _logger.debug("failed to read the stream helper's message", exc_info=True)
        if error is None:
            call.end()
        else:
            call.fail(error)


class _FirstEventSync(wrapt.ObjectProxy):
    """The helper's raw event stream, noting when its first event arrives."""

    def __init__(self, raw: Any, holder: _CallHolder) -> None:
        super().__init__(raw)
        self._self_holder = holder

    def __iter__(self) -> Any:
        for event in self.__wrapped__:
            if self._self_holder.first_at is None:
                self._self_holder.first_at = time.monotonic()
            yield event


class _FirstEventAsync(_FirstEventSync):
    def __aiter__(self) -> Any:
        return self._events()

    async def _events(self) -> Any:
        async for event in self.__wrapped__:
            if self._self_holder.first_at is None:
                self._self_holder.first_at = time.monotonic()
            yield event


def _observe_first_event(stream: Any, holder: _CallHolder, observer: type) -> None:
    """Time to first chunk: the helper reads its events from ``_raw_stream`` (read lazily, on first use)."""
    raw = getattr(stream, "_raw_stream", None)
    if raw is not None:
        try:
            stream._raw_stream = observer(raw, holder)
        except Exception:  # noqa: BLE001 - a helper of another shape: no time to first chunk, nothing else lost
            _logger.debug("cannot observe the stream helper's events", exc_info=True)


def _snapshot(stream: Any) -> Any:
    """The helper's accumulated message: a private attribute of its class (MessageStream, BetaMessageStream, async…)."""
    for cls in type(stream).__mro__:
        message = getattr(stream, f"_{cls.__name__}__final_message_snapshot", None)
        if message is not None:
            return message
    return None


def _is_api_error(exc: BaseException | None) -> bool:
    import anthropic

    return isinstance(exc, anthropic.APIError)


class _ManagerProxy(wrapt.ObjectProxy):
    """What both stream-manager proxies hold: how to start the call, the call, and the stream."""

    def __init__(self, manager: Any, tools: Instruments, op: Any, instance: Any, kwargs: dict[str, Any]) -> None:
        super().__init__(manager)
        self._self_start = (tools, op, instance, kwargs)
        self._self_holder = _CallHolder()
        self._self_stream: Any = None
        weakref.finalize(self, _CallHolder.end, self._self_holder, None, False, None)


class SyncManagerProxy(_ManagerProxy):
    def __enter__(self) -> Any:
        tools, op, instance, kwargs = self._self_start
        call = start_call(tools, op, instance, (), {**kwargs, "stream": True})  # the helper streams
        self._self_holder.call = call
        try:
            self._self_stream = self.__wrapped__.__enter__()
            _observe_first_event(self._self_stream, self._self_holder, _FirstEventSync)
        except BaseException as exc:
            self._self_holder.end(None, tools.capture, exc)
            raise
        finally:
            if call is not None:
                call.deactivate()
        return self._self_stream

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_holder.end(self._self_stream, self._self_start[0].capture, exc if _is_api_error(exc) else None)


class AsyncManagerProxy(_ManagerProxy):
    async def __aenter__(self) -> Any:
        tools, op, instance, kwargs = self._self_start
        call = start_call(tools, op, instance, (), {**kwargs, "stream": True})
        self._self_holder.call = call
        try:
            self._self_stream = await self.__wrapped__.__aenter__()
            _observe_first_event(self._self_stream, self._self_holder, _FirstEventAsync)
        except BaseException as exc:
            self._self_holder.end(None, tools.capture, exc)
            raise
        finally:
            if call is not None:
                call.deactivate()
        return self._self_stream

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_holder.end(self._self_stream, self._self_start[0].capture, exc if _is_api_error(exc) else None)


def stream_helper_wrapper(tools: Instruments, op: Any, proxy: type) -> Any:
    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            return proxy(manager, tools, op, instance, kwargs)
        except Exception:  # noqa: BLE001
            _logger.debug("failed to wrap a stream helper", exc_info=True)
            return manager

    return traced
