"""Stream proxies shared by every provider instrumentor.

A streamed LLM call returns an iterator long after the instrumented method has
returned, so its span must end when the stream ends, however it ends: exhausted,
closed early, left through a ``with`` block, broken by an error, or simply dropped.
The proxies below forward everything to the SDK's stream object (``wrapt``
keeps ``isinstance`` and every attribute working) and report to a
:class:`StreamRecorder`, which owns the span and ends it exactly once.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import wrapt

_logger = logging.getLogger(__name__)


class StreamRecorder:
    """Accumulates one stream's chunks and ends its span exactly once.

    Providers subclass it and implement :meth:`on_chunk` and :meth:`on_end`.
    The public methods never raise: telemetry errors are logged, never shown to
    the application.
    """

    __slots__ = ("_ended",)

    def __init__(self) -> None:
        self._ended = False

    def on_chunk(self, chunk: Any) -> None:
        """Fold one chunk into the accumulated state (hot path: keep it lean)."""

    def on_end(self, error: BaseException | None) -> None:
        """Write the accumulated state to the span and end it."""

    def chunk(self, chunk: Any) -> None:
        try:
            self.on_chunk(chunk)
        except Exception:  # noqa: BLE001 - telemetry must not break the stream
            _logger.debug("failed to record a stream chunk", exc_info=True)

    def end(self, error: BaseException | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self.on_end(error)
        except Exception:  # noqa: BLE001
            _logger.debug("failed to end a stream span", exc_info=True)


class SyncStreamProxy(wrapt.ObjectProxy):
    """Wraps a synchronous SDK stream; see the module docstring."""

    def __init__(self, wrapped: Any, recorder: StreamRecorder) -> None:
        super().__init__(wrapped)
        self._self_recorder = recorder
        # Ends the span of a stream the application drops without closing it.
        weakref.finalize(self, recorder.end)

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self.__wrapped__.__next__()
        except StopIteration:
            self._self_recorder.end()
            raise
        except BaseException as exc:
            self._self_recorder.end(exc)
            raise
        self._self_recorder.chunk(chunk)
        return chunk

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        # An exception raised inside the ``with`` body is the application's,
        # not the call's: a failing chunk has already ended the span with it.
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_recorder.end()

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_recorder.end()


class AsyncStreamProxy(wrapt.ObjectProxy):
    """Wraps an asynchronous SDK stream; see the module docstring."""

    def __init__(self, wrapped: Any, recorder: StreamRecorder) -> None:
        super().__init__(wrapped)
        self._self_recorder = recorder
        weakref.finalize(self, recorder.end)

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_recorder.end()
            raise
        except BaseException as exc:
            self._self_recorder.end(exc)
            raise
        self._self_recorder.chunk(chunk)
        return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_recorder.end()

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_recorder.end()

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_recorder.end()
