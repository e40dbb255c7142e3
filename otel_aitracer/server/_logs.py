"""OTLP logs (``POST /v1/logs``): log records about a span become events on that span's record.

The official GenAI instrumentations and evaluators emit what was said and how it was judged
as log events (``gen_ai.*`` event names, ``gen_ai.evaluation.result``). A log record with
a span context is joined to the record of that span in the same project, whichever arrives
first (the store keeps early events pending); GenAI content fills the record's input and
output where the span carried none. Log records without a span context are not kept:
serve stores LLM calls, not logs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from .._attributes import PROJECT_ATTRIBUTE
from .._destinations._records_db import Join, RecordsDB
from .._destinations._retention import cutoff
from .._guard import guarded
from .._recording._mapping import event_content
from .._recording._size_budget import fit_record
from .._time import rfc3339_ns
from ._otlp import attributes, response_message, value_of

MAX_EVENTS = 64  # per record; later events are counted in ``events_dropped``
PENDING_TTL = timedelta(hours=24)  # events whose span never became a record are dropped after this
SWEEP_SECONDS = 30.0


@dataclass(frozen=True)
class LogEvent:
    project: str | None  # from the log record or its resource, if either names one
    trace_id: str
    span_id: str
    event: dict[str, Any]


def log_record_count(request: ExportLogsServiceRequest) -> int:
    """How many log records a request holds (checked against the server's cap before any is read)."""
    return sum(len(scope_logs.log_records) for resource_logs in request.resource_logs for scope_logs in resource_logs.scope_logs)


def log_events(request: ExportLogsServiceRequest) -> Iterator[LogEvent | str | None]:
    """Each log record as a :class:`LogEvent`; a string saying why one was rejected; None for one with no span context."""
    for resource_logs in request.resource_logs:
        project = attributes(resource_logs.resource.attributes).get(PROJECT_ATTRIBUTE)
        for scope_logs in resource_logs.scope_logs:
            for log in scope_logs.log_records:
                yield _log_event(log, project)


def _log_event(log: LogRecord, project: Any) -> LogEvent | str | None:
    if not log.span_id and not log.trace_id:
        return None
    if len(log.trace_id) != 16 or len(log.span_id) != 8 or log.trace_id == bytes(16) or log.span_id == bytes(8):
        return "a log record's trace_id must be 16 bytes and span_id 8 bytes, not all zero"
    attrs = attributes(log.attributes)
    project = attrs.pop(PROJECT_ATTRIBUTE, None) or project  # the record's own project wins, as for spans
    name = log.event_name or attrs.pop("event.name", None) or "log"
    event: dict[str, Any] = {"name": str(name), "time": _time_of(log), "attributes": attrs}
    if log.HasField("body"):
        event["body"] = value_of(log.body)
    if log.severity_text:
        event["severity"] = log.severity_text
    return LogEvent(project if isinstance(project, str) else None, log.trace_id.hex(), log.span_id.hex(), event)


def join_events(max_record_bytes: int) -> Join:
    """The store's ``join``: add events to a record (at most :data:`MAX_EVENTS`), fill missing content, keep the budget."""

    def join(record: dict[str, Any], events: list[dict[str, Any]]) -> None:
        present = record.setdefault("events", [])
        before = event_content(present)  # what earlier events filled in, if anything
        room = max(0, MAX_EVENTS - len(present))
        present.extend(events[:room])
        if len(events) > room:
            record["events_dropped"] = record.get("events_dropped", 0) + len(events) - room
        for field, earlier, now in zip(("input", "output"), before, event_content(present)):
            if now is not None and record.get(field) in (None, earlier):  # the span carried none: the events say it
                record[field] = now
        fit_record(record, max_record_bytes)

    return join


def logs_response(rejected: int, message: str) -> ExportLogsServiceResponse:
    return response_message(rejected, message, ExportLogsServiceResponse(), "rejected_log_records")  # type: ignore[no-any-return]


def _time_of(log: LogRecord) -> str | None:
    ns = log.time_unix_nano or log.observed_time_unix_nano
    return rfc3339_ns(ns) if ns else None


def start_sweeping(store: RecordsDB, join: Join) -> threading.Event:
    """Every 30 s, join pending events whose record another worker wrote meanwhile, and drop expired ones."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(SWEEP_SECONDS):
            with guarded("pending events"):
                store.sweep_pending(join, cutoff(PENDING_TTL), cutoff(timedelta(seconds=5)))

    threading.Thread(target=run, name="otel-aitracer-events", daemon=True).start()
    return stop
