"""Times as records and events carry them: RFC 3339 in UTC, microseconds, a ``Z`` (text that sorts as time does)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import lru_cache


def utc_second_from_ns(ns: int) -> datetime:
    """An OpenTelemetry timestamp (ns since the epoch) as a UTC datetime, to the second (what prices change by): the
    spans of a batch mostly share their seconds, and serve prices every span it receives."""
    return _utc_second(ns // 1_000_000_000)


@lru_cache(maxsize=256)
def _utc_second(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def rfc3339(when: datetime | None = None) -> str:
    """``when`` (default: now) as records store it."""
    moment = datetime.now(timezone.utc) if when is None else when.astimezone(timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def rfc3339_ns(ns: int) -> str:
    """An OpenTelemetry timestamp (ns since the epoch) as records store times, to the nearest microsecond. Integer
    arithmetic (a float holds a 2026 time to a quarter of a microsecond only), and the second's text is kept, as
    the spans of a batch mostly share their seconds: this runs for every span serve receives."""
    seconds, micros = divmod((ns + 500) // 1000, 1_000_000)
    return f"{_second(seconds)}.{micros:06d}Z"


@lru_cache(maxsize=256)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
