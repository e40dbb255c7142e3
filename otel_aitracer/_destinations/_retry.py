"""When to send again: the OTLP retry rules, applied to the AITracer API.

Retryable: 429, 502, 503, 504 and failures to connect or to get an answer.
Everything else is final (413 is split by the sender, 401/403 is a configuration
problem). Waits grow exponentially with jitter, and a server's ``Retry-After``
(seconds or an HTTP date) is honoured as ``max(backoff, Retry-After)``, capped.
"""

from __future__ import annotations

import math
import random
import time
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
UNAUTHORIZED_STATUS = frozenset({401, 403})
TOO_LARGE_STATUS = 413

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 300.0
JITTER = 0.2


def backoff(attempt: int, jitter: float = JITTER) -> float:
    """Seconds to wait after the ``attempt``-th failure (1, 2, 4 … capped at 30, ±20 %)."""
    base = min(MAX_BACKOFF, INITIAL_BACKOFF * 2 ** max(0, attempt - 1))
    return base * random.uniform(1 - jitter, 1 + jitter)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: a number or an HTTP date; ``None`` when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def wait_before_retry(attempt: int, retry_after: str | None) -> float:
    """The wait after a retryable failure: the server's hint if longer than our backoff."""
    hint = parse_retry_after(retry_after)
    return max(backoff(attempt), hint or 0.0)
