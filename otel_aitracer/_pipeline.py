"""The one path data takes: finished spans -> records -> sink, with every drop counted."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any, Iterable, Protocol, Sequence

from opentelemetry.sdk.trace import ReadableSpan

from ._config import Settings
from ._http_sink import HTTPSink
from ._mapping import span_to_record
from ._pii import PIIRedactor
from ._pii._records import redact_record
from ._store import SQLiteStore

_logger = logging.getLogger(__name__)

# Why a span that should have become a record did not.
DROP_REASONS = ("queue_full", "mapping_error", "redaction_error", "sink_error", "shutdown")


class Sink(Protocol):
    def write(self, records: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


def make_sink(settings: Settings) -> Sink:
    if settings.api_key:
        return HTTPSink(settings.base_url, settings.api_key)
    return SQLiteStore(settings.store)


def make_redactor(settings: Settings) -> PIIRedactor | None:
    """The redactor ``settings`` ask for; ``None`` when PII detection is off."""
    if not settings.pii_detection:
        return None
    return PIIRedactor(types=settings.pii_types, action=settings.pii_action)


class Stats:
    """Thread-safe counters: records written and spans dropped, by reason."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        if n:
            with self._lock:
                self._counts[name] += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
        return {
            "written": counts.get("written", 0),
            "dropped": {reason: counts.get(reason, 0) for reason in DROP_REASONS},
        }


class RecordPipeline:
    """Maps spans to records and hands them to the sink in one batch."""

    def __init__(self, settings: Settings, sink: Sink | None = None, redactor: PIIRedactor | None = None) -> None:
        self.settings = settings
        self.redactor = redactor if redactor is not None else make_redactor(settings)
        self.sink: Sink = sink if sink is not None else make_sink(settings)
        self.stats = Stats()

    def process(self, spans: Iterable[ReadableSpan]) -> bool:
        """Write the records of ``spans``; False if the sink failed (the batch is counted dropped)."""
        records = []
        for span in spans:
            try:
                record = span_to_record(span, default_project=self.settings.project, capture_content=self.settings.capture_content)
            except Exception:  # noqa: BLE001 - one bad span must not lose the batch
                _logger.warning("could not map span %r; dropped", getattr(span, "name", "?"), exc_info=True)
                self.stats.add("mapping_error")
                continue
            if record is None:
                continue
            if self.redactor is not None:
                try:
                    redact_record(record, self.redactor)
                except Exception:  # noqa: BLE001 - a record that could not be redacted never leaves
                    _logger.warning("could not redact the record of span %r; dropped", getattr(span, "name", "?"), exc_info=True)
                    self.stats.add("redaction_error")
                    continue
            records.append(record)
        if not records:
            return True
        try:
            self.sink.write(records)
        except Exception:  # noqa: BLE001
            _logger.warning("could not write %d records to the %s; dropped", len(records), self.settings.destination, exc_info=True)
            self.stats.add("sink_error", len(records))
            return False
        self.stats.add("written", len(records))
        return True

    def close(self) -> None:
        self.sink.close()
