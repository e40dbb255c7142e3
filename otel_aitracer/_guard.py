"""The never-raise rule, written once.

``with guarded("site"):`` around our own work: an exception is swallowed, counted by
site (``stats()["internal_errors"]``), and logged at WARNING the first time a site
fails (DEBUG after that), so a broken path is seen without flooding the app's logs.
The application's own exceptions never pass through here: wrappers guard only
their telemetry steps.
"""

from __future__ import annotations

import logging
from collections import Counter
from types import TracebackType
from typing import Callable, Iterable, TypeVar

from ._fork import new_lock

_logger = logging.getLogger("otel_aitracer")
_counts: Counter[str] = Counter()
_logged: set[object] = set()
_lock = new_lock()


class guarded:  # noqa: N801 - used like a function: ``with guarded("site"):``
    """Swallow, count and log (once per site) an ``Exception`` raised inside the block."""

    __slots__ = ("site",)

    def __init__(self, site: str) -> None:
        self.site = site

    def __enter__(self) -> guarded:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        if kind is None or not issubclass(kind, Exception):
            return False
        internal_error(self.site, exc)
        return True


_Item = TypeVar("_Item")


def each_guarded(site: str, work: Callable[[_Item], object], items: Iterable[_Item]) -> None:
    """``work`` on each item, as ``with guarded(site)`` around each: one item's failure costs only that item. For hot
    loops (every record serve receives): a ``try`` costs nothing until it catches, a ``with`` two calls per item."""
    for item in items:
        try:
            work(item)
        except Exception as exc:  # noqa: BLE001 - the never-raise rule
            internal_error(site, exc)


def internal_error(site: str, exc: BaseException | None) -> None:
    """Count a failure of our own code at ``site``; log it at WARNING the first time."""
    with _lock:
        _counts[site] += 1
        first = site not in _logged
        _logged.add(site)
    if first:
        _logger.warning("otel-aitracer: internal error in %s (later ones are counted, not logged): %r", site, exc, exc_info=exc)
    else:
        _logger.debug("otel-aitracer: internal error in %s: %r", site, exc, exc_info=exc)


def warn_once(key: object, message: str, *args: object) -> None:
    """Log ``message`` at WARNING the first time ``key`` is seen in this process."""
    with _lock:
        first = key not in _logged
        _logged.add(key)
    if first:
        _logger.warning(message, *args)


def internal_errors() -> dict[str, int]:
    """Failures of our own code since the process started, by site."""
    with _lock:
        return dict(_counts)
