"""What the record path reads of a finished span, whoever made it."""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

from opentelemetry.sdk.trace import Event
from opentelemetry.trace import SpanContext, Status


class FinishedSpan(Protocol):
    """What the mapping reads of a span: the SDK's ``ReadableSpan`` in-process, serve's ``WireSpan`` (an OTLP span as
    received) on the server."""

    @property
    def name(self) -> str: ...
    @property
    def context(self) -> SpanContext: ...
    @property
    def parent(self) -> SpanContext | None: ...
    @property
    def attributes(self) -> Mapping[str, Any] | None: ...
    @property
    def events(self) -> Sequence[Event]: ...
    @property
    def status(self) -> Status: ...
    @property
    def start_time(self) -> int | None: ...
    @property
    def end_time(self) -> int | None: ...
