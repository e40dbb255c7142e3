"""Times as records and events carry them: RFC 3339 in UTC, microseconds, a ``Z`` (text that sorts as time does)."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_from_ns(ns: int) -> datetime:
    """An OpenTelemetry timestamp (ns since the epoch) as a UTC datetime."""
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)


def rfc3339(when: datetime | None = None) -> str:
    """``when`` (default: now) as records store it."""
    moment = datetime.now(timezone.utc) if when is None else when.astimezone(timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def rfc3339_ns(ns: int) -> str:
    """An OpenTelemetry timestamp (ns since the epoch) as records store times."""
    return rfc3339(utc_from_ns(ns))
