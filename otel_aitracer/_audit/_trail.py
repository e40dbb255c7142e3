"""The audit trail of agent runs (SPEC §8): a JSON Lines mirror of their spans' starts and ends, and a
hash-chained decision record per model call, written by the pipeline's worker, never the app's thread.

A run is a trace with a workflow or an agent span, whichever framework made it. A decision record holds
the sha256 of the canonical JSON of the messages the model was sent and gave back, as the span carries
them (``gen_ai.input.messages`` / ``gen_ai.output.messages``, before redaction), and no content unless
``store_raw_prompt`` / ``store_raw_response`` ask for it (then redacted).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from .._finished_span import FinishedSpan
from .._guard import warn_once
from .._record_kinds import ANSWERS, RUNS, WORKFLOW
from .._time import rfc3339_ns
from ._chain import append_chained, append_lines, canonical, sha256

_MAX_RUNS = 10_000  # traces remembered as runs (oldest forgotten first)


@dataclass(frozen=True)
class SpanStart:
    """What the mirror and the decision records need of a span when it starts (taken on the app's thread)."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    operation: str
    workflow_name: str | None
    started_at: int  # ns since the epoch

    @classmethod
    def of(cls, span: Any, operation: str) -> SpanStart:
        context, parent = span.get_span_context(), span.parent
        attributes = span.attributes or {}
        return cls(
            format(context.trace_id, "032x"), format(context.span_id, "016x"), format(parent.span_id, "016x") if parent else None,
            span.name, operation, attributes.get(GenAI.GEN_AI_WORKFLOW_NAME), span.start_time or 0,
        )  # fmt: skip


class AuditTrail:
    """Collects a batch's mirror lines and decision records in order; :meth:`write` appends them."""

    def __init__(
        self, decision_log: Path | None, mirror: Path | None, redact: Callable[[Any], Any] | None, count: Callable[[str, int], None],
        store_raw_prompt: bool = False, store_raw_response: bool = False,
    ) -> None:  # fmt: skip
        self._decision_log, self._mirror = decision_log, mirror
        self._redact = redact
        self._count = count
        self._raw_prompt, self._raw_response = store_raw_prompt, store_raw_response
        self._runs: OrderedDict[str, str | None] = OrderedDict()  # trace id -> workflow name
        self._mirrored: list[dict[str, Any]] = []
        self._decisions: list[dict[str, Any]] = []

    def started(self, start: SpanStart) -> None:
        if start.operation in RUNS and (start.trace_id not in self._runs or start.operation == WORKFLOW):
            self._runs[start.trace_id] = start.workflow_name if start.operation == WORKFLOW else self._runs.get(start.trace_id)
            while len(self._runs) > _MAX_RUNS:
                self._runs.popitem(last=False)
        if self._mirror is not None and start.trace_id in self._runs:
            self._mirrored.append(
                {"event": "span_start", "trace_id": start.trace_id, "span_id": start.span_id, "parent_id": start.parent_id,
                 "name": start.name, "operation": start.operation, "at": rfc3339_ns(start.started_at)}
            )  # fmt: skip

    def ended(self, span: FinishedSpan, record: dict[str, Any] | None) -> None:
        """``record``: the span's record as mapped, before redaction (None when the span makes none)."""
        trace_id = format(span.context.trace_id, "032x") if span.context else ""
        if trace_id not in self._runs:
            return
        if self._mirror is not None:
            self._mirrored.append(
                {"event": "span_end", "trace_id": trace_id, "span_id": format(span.context.span_id, "016x"), "name": span.name,
                 "status": span.status.status_code.name.lower(), "started_at": rfc3339_ns(span.start_time or 0),
                 "ended_at": rfc3339_ns(span.end_time or 0)}
            )  # fmt: skip
        if self._decision_log is not None and record is not None and record.get("operation") in ANSWERS:
            self._decisions.append(self._decision(span, record, trace_id))

    def _decision(self, span: FinishedSpan, record: dict[str, Any], trace_id: str) -> dict[str, Any]:
        attributes = span.attributes or {}
        sent, received = _messages(attributes.get(GenAI.GEN_AI_INPUT_MESSAGES)), _messages(attributes.get(GenAI.GEN_AI_OUTPUT_MESSAGES))
        line: dict[str, Any] = {
            "trace_id": trace_id,
            "span_id": record.get("span_id"),
            "workflow_name": self._runs.get(trace_id),
            "group_id": record.get("session_id"),
            "agent_name": record.get("agent_name"),
            "model": record.get("model"),
            "started_at": record.get("started_at"),
            "ended_at": rfc3339_ns(span.end_time or 0),
            "latency_ms": record.get("latency_ms"),
            "prompt_sha256": None if sent is None else sha256(canonical(sent)),
            "response_sha256": None if received is None else sha256(canonical(received)),
        }
        if self._raw_prompt and sent is not None:
            line["prompt"] = self._redact(sent) if self._redact else sent
        if self._raw_response and received is not None:
            line["response"] = self._redact(received) if self._redact else received
        return line

    def write(self) -> None:
        """Append what the batch collected; a file that cannot be written costs its lines, counted, never the app."""
        mirrored, decisions = self._mirrored, self._decisions
        self._mirrored, self._decisions = [], []
        if mirrored and self._mirror is not None:
            self._append("mirror", lambda: append_lines(self._mirror, mirrored), len(mirrored))  # type: ignore[arg-type]
        if decisions and self._decision_log is not None:
            self._append("decision records", lambda: append_chained(self._decision_log, decisions), len(decisions))  # type: ignore[arg-type]

    def _append(self, what: str, append: Callable[[], object], n: int) -> None:
        try:
            append()
        except OSError as exc:
            warn_once(("audit", what), "otel-aitracer: could not append %d %s lines (%s); later losses are counted in stats()['audit']", n, what, exc)
            self._count("audit_error", n)
        else:
            self._count("audit_lines", n)


def _messages(value: Any) -> Any:
    """The messages a span attribute carries (JSON text per the conventions), or None when there are none."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return list(value) if isinstance(value, tuple) else value
