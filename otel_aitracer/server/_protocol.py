"""uvicorn's httptools protocol with the bounds a shared server needs before the app sees a request.

httptools gathers a header until it is complete, and uvicorn waits for headers as long as a
client likes: a client could send one endless header, or a byte a minute. Here the bytes
before the end of the headers are capped (431) and must all arrive within the read timeout
(else the connection is closed). The body's own deadline is the app's (``_body``).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .._config import env_number
from ._balance import Balance

MAX_HEADER_BYTES = 64 * 1024
READ_TIMEOUT = "AITRACER_SERVER_READ_TIMEOUT"
DEFAULT_READ_TIMEOUT = 15.0


@functools.cache
def read_timeout() -> float:
    """Seconds a request's headers (here) and then its body (the app) may take to arrive."""
    return env_number(READ_TIMEOUT, DEFAULT_READ_TIMEOUT)


_BALANCES: dict[int, Balance] = {}  # this worker's, by listening port


def publish_balance(port: int) -> Balance:
    """This worker's count of connections on ``port``, published from the first call (a worker's start)."""
    balance = _BALANCES.get(port)
    if balance is None:
        balance = _BALANCES[port] = Balance(port)
    return balance


def _balance_for(transport: asyncio.BaseTransport) -> Balance:
    return publish_balance(int((transport.get_extra_info("sockname") or ("", 0))[1]))


def release_balances() -> None:
    """At a worker's shutdown: its count leaves the shared directory (the last one out removes it)."""
    for balance in _BALANCES.values():
        balance.close()
    _BALANCES.clear()


class BoundedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = read_timeout()
        self._head_bytes = 0
        self._in_head = self._in_body = False
        self._head_deadline: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if not self._in_head and not self._in_body:  # the first bytes of a request
            self._in_head, self._head_bytes = True, 0
            self._head_deadline = self.loop.call_later(self.read_timeout, self._too_slow)
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():  # still no end of headers
            self._refuse_headers()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._balance, self._leaving = _balance_for(transport), False
        self._balance.opened()

    def on_headers_complete(self) -> None:
        self._end_head()
        self._in_body = True
        super().on_headers_complete()
        if self.cycle is not None and not self._leaving and self._balance.shed_one():
            self.cycle.keep_alive = False  # answered with "connection: close": the client connects again
            self._leaving = True

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_head()
        self._balance.closed(self._leaving)
        super().connection_lost(exc)

    def _end_head(self) -> None:
        self._in_head = False
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _too_slow(self) -> None:
        self._head_deadline = None
        if self._in_head and not self.transport.is_closing():
            self.transport.close()

    def _refuse_headers(self) -> None:
        self._end_head()
        message = b"request headers are over the 64 KB limit"
        self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (len(message), message))  # fmt: skip
        self.transport.close()
