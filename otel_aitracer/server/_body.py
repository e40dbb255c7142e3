"""Request bodies with limits: the time to read them, the raw size, and the size after gzip, checked while reading.

A gzip bomb is stopped once its output passes the limit, without inflating the rest; a
body of several gzip members (concatenated files, streaming compressors) is read whole.
Inflated by zlib-ng, zlib's API at about three times its speed: every OTLP exporter sends gzip, and
serve inflated each span's bytes at 3 µs a span on its event loop.
"""

from __future__ import annotations

from typing import AsyncIterator, cast

import anyio
from zlib_ng import zlib_ng as zlib

_BAD_GZIP = cast("type[Exception]", zlib.error)  # its stub says an instance: it is the class zlib.error is


class BodyError(Exception):
    """A body the server refuses: ``status`` is 400, 408, 413 or 415."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(chunks: AsyncIterator[bytes], content_length: str | None, max_bytes: int, timeout: float) -> bytes:
    """The raw body; 413 as soon as it is (or says it is) longer than ``max_bytes``, 408 unless whole within ``timeout``."""
    try:
        with anyio.fail_after(timeout):
            return await _read(chunks, content_length, max_bytes)
    except TimeoutError:
        raise BodyError(408, f"the body did not arrive within {timeout:g} s") from None


async def _read(chunks: AsyncIterator[bytes], content_length: str | None, max_bytes: int) -> bytes:
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise BodyError(400, "Content-Length is not a number") from None
        if declared > max_bytes:
            raise BodyError(413, f"body of {declared} bytes is over the {max_bytes}-byte limit")
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise BodyError(413, f"body is over the {max_bytes}-byte limit")
        parts.append(chunk)
    return b"".join(parts)


def decode_body(raw: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body after ``Content-Encoding`` (identity or gzip); 413 past ``max_bytes`` inflated, 400 for bad gzip."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise BodyError(415, f"Content-Encoding {content_encoding!r} is not supported (gzip or identity)")
    parts, size, rest = [], 0, raw
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = inflater.decompress(rest, max_bytes - size + 1)
        except _BAD_GZIP as exc:
            raise BodyError(400, f"gzip: {exc}") from None
        size += len(out)
        if size > max_bytes or inflater.unconsumed_tail:
            raise BodyError(413, f"body is over the {max_bytes}-byte limit once decompressed")
        if not inflater.eof:
            raise BodyError(400, "gzip: truncated body")
        parts.append(out)
        rest = inflater.unused_data  # the next member, if any
    return b"".join(parts)
