"""One LLM call, one record, even when two instrumentations traced it (a wrapper around the SDK's own span).

An LLM record whose descendant is an LLM record of the same project, operation and trace
is the same call seen from outside (records of two projects never fold: a project is a
wall, whatever ids arrive, and an app calling through another team's gateway keeps its own): the inner record is kept (it is closest to
the provider) and takes what only the outer one knew (session, user, metadata,
tags, content). Within a request the whole span tree is known; across requests
only a direct parent and child can be matched, from the store.

Logfire records a streamed call as two siblings: the request span (no output, no
usage) and, when the stream ends, a ``streaming response`` log carrying the
result. The pair is one record: the log's result over the request's start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, NamedTuple, Sequence

from .._destinations._settling import StoredTraces
from .._finished_span import FinishedSpan
from .._record_kinds import MODEL_CALLS

_IDENTITY = ("session_id", "app_user_id", "step_index", "agent_name")
_MAX_DEPTH = 64
_LOGFIRE_TYPE = "logfire.span_type"
_LOGFIRE_TEMPLATE = "logfire.msg_template"
STREAM_LOG = "_stream_log"  # a transient mark on a record, never stored
_RESULT_FIELDS = ("model", "output", "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "cost", "cost_source", "status", "error_message")


def drop_outer_duplicates(spans: Iterable[FinishedSpan], records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The records of one request without outer duplicates, and how many were dropped."""
    spans = list(spans)
    llm = {r["span_id"]: r for r in records if r.get("operation") in MODEL_CALLS}
    parents = {s.parent.span_id for s in spans if s.parent is not None}
    if parents.isdisjoint(int(span_id, 16) for span_id in llm):  # no call has a child in this request (most requests)
        return _pair_logfire_streams(spans, records)
    parent_of = {_hex(s.context.span_id): _hex(s.parent.span_id) if s.parent else None for s in spans if s.context}
    dropped: set[str] = set()
    for inner in llm.values():
        parent, depth = parent_of.get(inner["span_id"]), 0
        while parent is not None and depth < _MAX_DEPTH:
            outer = llm.get(parent)
            if outer is not None and _same_call(outer, inner) and outer["span_id"] not in dropped:
                merge_outer(inner, outer)
                dropped.add(outer["span_id"])
                break
            parent, depth = parent_of.get(parent), depth + 1
    kept = [r for r in records if r["span_id"] not in dropped]
    kept, paired = _pair_logfire_streams(spans, kept)
    return kept, len(dropped) + paired


def _pair_logfire_streams(spans: Sequence[FinishedSpan], records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Fold each Logfire ``streaming response`` log into its request span's record."""
    if not any(_is_stream_log(s) for s in spans):
        return records, 0
    by_id = {_hex(s.context.span_id): s for s in spans if s.context}
    logs = [r for r in records if _is_stream_log(by_id.get(r["span_id"]))]
    if not logs:
        return records, 0
    folded: set[str] = set()  # logs folded in, and requests that took one
    for log in sorted(logs, key=lambda r: by_id[r["span_id"]].start_time or 0):
        log_span = by_id[log["span_id"]]
        request = _stream_request(log, log_span, records, by_id, folded)
        if request is None:
            continue
        request_span = by_id[request["span_id"]]
        _take_result(request, log, max(0, ((log_span.start_time or 0) - (request_span.start_time or 0)) // 1_000_000))
        folded.update((log["span_id"], request["span_id"]))
    for log in logs:
        if log["span_id"] not in folded:  # its request span came in an earlier request: the store pairs it
            log[STREAM_LOG] = True
    gone = {log["span_id"] for log in logs} & folded
    return [r for r in records if r["span_id"] not in gone], len(gone)


def _take_result(request: dict[str, Any], log: dict[str, Any], latency_ms: int) -> None:
    for key in _RESULT_FIELDS:
        if key in log:
            request[key] = log[key]
    request["latency_ms"] = latency_ms


def _is_stream_log(span: FinishedSpan | None) -> bool:
    attrs = (span.attributes or {}) if span is not None else {}
    return attrs.get(_LOGFIRE_TYPE) == "log" and str(attrs.get(_LOGFIRE_TEMPLATE, "")).startswith("streaming response")


def _stream_request(log: dict[str, Any], log_span: FinishedSpan, records: list[dict[str, Any]], by_id: dict[str, FinishedSpan],
                    folded: set[str]) -> dict[str, Any] | None:  # fmt: skip
    """The latest earlier sibling request span of the same operation and request data."""
    request_data = (log_span.attributes or {}).get("request_data")
    candidates = []
    for record in records:
        span = by_id.get(record["span_id"])
        if span is None or record is log or record["span_id"] in folded or _is_stream_log(span):
            continue
        same_parent = (span.parent.span_id if span.parent else None) == (log_span.parent.span_id if log_span.parent else None)
        if same_parent and _same_call(record, log) and (span.attributes or {}).get("request_data") == request_data:
            if (span.start_time or 0) <= (log_span.start_time or 0):
                candidates.append((span.start_time or 0, record))
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


class Folded(NamedTuple):
    """What :func:`against_store` made of a batch."""

    kept: list[dict[str, Any]]  # the records to write
    dropped: int  # how many were folded into another, or were stored already
    restored: list[dict[str, Any]]  # of ``kept``, stored ones taken out and merged: written again, a call already counted
    merged: list[dict[str, Any]]  # of ``kept``, the batch's calls that took what a stored outer call knew


def against_store(store: StoredTraces, records: list[dict[str, Any]]) -> Folded:
    """Fold each call with its stored other half: a stored inner call takes what its outer one (in ``records``) knew
    and is written again in its place; a stored outer call gives what it knew to its inner one and is removed. Within
    the transaction that writes ``records``: another worker cannot store half of a call in between. A span stored
    already (sent again) is dropped here, before it is counted into any baseline."""
    stored_before = store.stored([(r["project"], r["trace_id"], r["span_id"]) for r in records])
    resent = len(stored_before)
    if resent:
        records = [r for r in records if (r["project"], r["trace_id"], r["span_id"]) not in stored_before]
    calls = [r for r in records if r.get("operation") in MODEL_CALLS]
    if not calls:
        return Folded(records, resent, [], [])
    stored_inner = store.pop_children([_key(r, r["span_id"]) for r in calls])
    parents = [_key(r, r["parent_span_id"]) for r in calls if r.get("parent_span_id") and (r["project"], r["span_id"]) not in stored_inner]
    stored_outer = store.pop_calls(parents) if parents else {}
    kept, restored, merged = [], [], []
    for record in records:
        if record.pop(STREAM_LOG, False):
            request = store.pop_stream_request(record)
            if request is not None:
                _take_result(request, record, _ms_between(request["started_at"], record["started_at"]))
                record = request
                restored.append(request)
        inner_calls = stored_inner.get((record["project"], record["span_id"]))
        if inner_calls is not None:  # an outer call whose inner one is stored: that one is kept, with what this knew
            for inner in inner_calls:
                merge_outer(inner, record)
            kept.extend(inner_calls)
            restored.extend(inner_calls)
            continue
        outer = stored_outer.get((record["project"], record.get("parent_span_id") or ""))
        if outer is not None and record.get("operation") in MODEL_CALLS:
            merge_outer(record, outer)
            merged.append(record)
        kept.append(record)
    return Folded(kept, resent + len(stored_inner) + len(stored_outer), restored, merged)


def _same_call(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["operation"] == b["operation"] and a["project"] == b["project"])


def _key(record: dict[str, Any], span_id: str) -> tuple[str, str, str, str]:
    """What the store matches a call by: project, trace, span, operation."""
    return record["project"], record["trace_id"], span_id, record["operation"]


def merge_outer(inner: dict[str, Any], outer: dict[str, Any]) -> None:
    """Give ``inner`` what only ``outer`` recorded."""
    for key in _IDENTITY:
        if inner.get(key) is None and outer.get(key) is not None:
            inner[key] = outer[key]
    inner["metadata"] = {**(outer.get("metadata") or {}), **(inner.get("metadata") or {})}
    tags = list(inner.get("tags") or []) + [t for t in outer.get("tags") or [] if t not in (inner.get("tags") or [])]
    if tags:
        inner["tags"] = tags
    for key in ("input", "output"):
        if inner.get(key) in (None, {"redacted": True}) and outer.get(key) not in (None, {"redacted": True}):
            inner[key] = outer[key]


def _hex(span_id: int) -> str:
    return format(span_id, "016x")


def _ms_between(start: str, end: str) -> int:
    """Milliseconds between two records' ``started_at`` (RFC 3339)."""
    parsed = [datetime.fromisoformat(text.replace("Z", "+00:00")) for text in (start, end)]
    return max(0, int((parsed[1] - parsed[0]).total_seconds() * 1000))
