"""Why a span did not become a delivered record: every drop is counted by one of these reasons."""

from __future__ import annotations

import errno
import sqlite3
from collections import Counter
from typing import Any

from ._fork import new_lock

DROP_REASONS = (
    "queue_full",  # the worker's queue was at its bound
    "mapping_error",  # the span could not be read as a record
    "invalid_record",  # a value no store can hold (a count past 2^63, JSON nested past 255 levels)
    "redaction_error",  # could not be redacted, so never sent
    "sink_error",  # the destination failed for another reason
    "disk_full",  # no room for the store or the spool
    "store_unavailable",  # the store cannot be opened (read-only disk, corrupt file, held lock)
    "shutdown",  # arrived after shutdown, or still queued when the exit budget ran out
    "rejected",  # the API refused it for good
    "set_aside",  # the API kept failing on it while taking the rest: kept in the spool's set_aside table, not sent again
    "ttl_expired",  # spooled longer than the spool's TTL
    "spool_full",  # the spool was at its size bound
)


class DropError(Exception):
    """A sink could not take a batch, for ``reason`` (one of :data:`DROP_REASONS`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def drop_reason(exc: BaseException) -> str:
    """The reason a sink's exception stands for."""
    if isinstance(exc, DropError):
        return exc.reason
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
        return "disk_full"
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return "store_unavailable"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disk_full"
    return "sink_error"


class Stats:
    """Thread-safe counters: records written and sent, and drops by reason."""

    def __init__(self) -> None:
        self._lock = new_lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self._counts[name] += n

    def snapshot(self) -> dict[str, Any]:
        """``written``: records accepted by the sink (for the API: spooled); ``sent``: acknowledged by the API;
        ``unauthorized``: sends refused with 401/403 (the data stays spooled); ``audit``: lines the audit
        trail appended, and lines it could not (an unwritable file)."""
        with self._lock:
            counts = dict(self._counts)
        return {
            "written": counts.get("written", 0),
            "session_events": counts.get("session_events", 0),
            "sent": counts.get("sent", 0),
            "unauthorized": counts.get("unauthorized", 0),
            "truncated": counts.get("truncated", 0),
            "audit": {"lines": counts.get("audit_lines", 0), "lost": counts.get("audit_error", 0)},
            "dropped": {reason: counts.get(reason, 0) for reason in DROP_REASONS},
        }
