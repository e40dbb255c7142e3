"""How long a store keeps records: ``--retention-days N`` for every project, ``AITRACER_RETENTION`` per project.

A background thread in each worker prunes at start and then hourly, through the store's
``prune`` (small batches, so ingest never waits long; PostgreSQL drops whole partitions).
Workers pruning at once only repeat each other's deletes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .._guard import guarded
from .._time import rfc3339
from ..exceptions import ConfigurationError
from ._records_db import RecordsDB

_logger = logging.getLogger(__name__)
INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class Retention:
    default_days: float | None = None  # every project not named in per_project; None keeps them forever
    per_project: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, days: float | None, spec: str | None) -> Retention:
        """``days`` (``--retention-days``) and ``spec`` (``AITRACER_RETENTION``: ``chatbot=30,search=7``)."""
        per_project: dict[str, float] = {}
        for entry in filter(None, (part.strip() for part in (spec or "").split(","))):
            project, _, value = entry.partition("=")
            try:
                if not project.strip():
                    raise ValueError(entry)
                per_project[project.strip()] = _days(float(value))  # no "=": float("") fails
            except ValueError:
                raise ConfigurationError(f"AITRACER_RETENTION: expected project=days[,project=days], got {entry!r}") from None
        if days is not None:
            try:
                days = _days(days)
            except ValueError:
                raise ConfigurationError(f"--retention-days must be a positive number of days, got {days}") from None
        return cls(days, per_project)

    @property
    def active(self) -> bool:
        return self.default_days is not None or bool(self.per_project)

    def prune(self, store: RecordsDB, now: datetime | None = None) -> int:
        """Delete what is past its retention; returns how many records went."""
        now = now or datetime.now(timezone.utc)
        deleted = 0
        if self.default_days is not None:  # past the longest retention, every project's records may go at once
            deleted += store.prune(cutoff(timedelta(days=max(self.default_days, *self.per_project.values())), now))
        deleted += sum(store.prune(cutoff(timedelta(days=days), now), project=project) for project, days in self.per_project.items())
        if self.default_days is not None:
            deleted += store.prune(cutoff(timedelta(days=self.default_days), now), exclude=tuple(self.per_project))
        return deleted


def cutoff(age: timedelta, now: datetime | None = None) -> str:
    """The RFC 3339 time ``age`` before ``now`` (records started before it are pruned)."""
    return rfc3339((now or datetime.now(timezone.utc)) - age)


def _days(value: float) -> float:
    if not value > 0:
        raise ValueError(value)
    return value


def start_pruning(retention: Retention, store: RecordsDB) -> threading.Event:
    """Prune now and every hour on a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            with guarded("retention"):
                deleted = retention.prune(store)
                if deleted:
                    _logger.info("retention: deleted %d records past their retention", deleted)
            stop.wait(INTERVAL_SECONDS)

    threading.Thread(target=run, name="otel-aitracer-retention", daemon=True).start()
    return stop
