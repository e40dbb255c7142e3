"""One LLM call, one record, even when two instrumentations traced it (a wrapper around the SDK's own span).

An LLM record whose descendant is an LLM record of the same operation and trace
is the same call seen from outside: the inner record is kept (it is closest to
the provider) and takes what only the outer one knew (session, user, metadata,
tags, content). Within a request the whole span tree is known; across requests
only a direct parent and child can be matched, from the store.
"""

from __future__ import annotations

from typing import Any, Iterable

from opentelemetry.sdk.trace import ReadableSpan

from .._store import SQLiteStore

LLM_OPERATIONS = frozenset({"chat", "generate_content", "text_completion", "embeddings"})
_IDENTITY = ("session_id", "app_user_id", "step_index", "agent_name")
_MAX_DEPTH = 64


def drop_outer_duplicates(spans: Iterable[ReadableSpan], records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The records of one request without outer duplicates, and how many were dropped."""
    parent_of = {_hex(s.context.span_id): _hex(s.parent.span_id) if s.parent else None for s in spans if s.context}
    llm = {r["span_id"]: r for r in records if r.get("operation") in LLM_OPERATIONS}
    dropped: set[str] = set()
    for inner in llm.values():
        parent, depth = parent_of.get(inner["span_id"]), 0
        while parent is not None and depth < _MAX_DEPTH:
            outer = llm.get(parent)
            if outer is not None and outer["operation"] == inner["operation"] and outer["span_id"] not in dropped:
                merge_outer(inner, outer)
                dropped.add(outer["span_id"])
                break
            parent, depth = parent_of.get(parent), depth + 1
    return [r for r in records if r["span_id"] not in dropped], len(dropped)


def against_store(store: SQLiteStore, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Drop records whose inner call is already stored; replace a stored outer record by its inner one."""
    calls = [r for r in records if r.get("operation") in LLM_OPERATIONS]
    if not calls:
        return records, 0
    outer_of_stored = store.parents_with_child_call([(r["trace_id"], r["span_id"], r["operation"]) for r in calls])
    parents = [(r["trace_id"], r["parent_span_id"], r["operation"]) for r in calls if r.get("parent_span_id") and r["span_id"] not in outer_of_stored]
    stored_outer = store.pop_calls(parents) if parents else {}
    kept = []
    for record in records:
        if record["span_id"] in outer_of_stored:
            continue
        outer = stored_outer.get(record.get("parent_span_id") or "")
        if outer is not None and record.get("operation") in LLM_OPERATIONS:
            merge_outer(record, outer)
        kept.append(record)
    return kept, len(outer_of_stored) + len(stored_outer)


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
