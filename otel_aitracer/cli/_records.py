"""``logs`` and ``trace``: records from the store, as a table, a tree, or JSON."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .._record_kinds import MODEL_CALLS, RUNS, operation_of
from . import _table

_HEADERS = ("started (UTC)", "project", "op", "name", "step", "model", "status", "tokens", "latency", "cost", "anomaly", "session", "user", "trace")
_OPTIONAL = (13, 12, 11, 1, 4, 10)  # dropped in this order when the terminal is too narrow: trace, user, session, project, step, anomaly
_SHRINKABLE = (2, 3, 5, 11, 12)  # op, name, model, session, user


def logs_table(records: list[dict[str, Any]], width: int | None = None) -> str:
    rows = [
        (
            r.get("started_at", "")[:19].replace("T", " "),
            r.get("project"),
            r.get("operation"),
            r.get("name"),
            r.get("step_index"),
            r.get("model"),
            r.get("status"),
            tokens(r),
            _table.ms(r.get("latency_ms")),
            _table.cost(r.get("cost")),
            anomaly(r),
            r.get("session_id"),
            r.get("app_user_id"),
            r.get("trace_id"),
        )
        for r in records
    ]
    return _table.table(_HEADERS, rows, width, _OPTIONAL, _SHRINKABLE)


def tokens(record: dict[str, Any]) -> str:
    """``in/out`` for a model call; a dash for an agent, tool or workflow record (theirs are not its own)."""
    if operation_of(record) not in MODEL_CALLS:
        return "-"
    return f"{record.get('input_tokens', 0)}/{record.get('output_tokens', 0)}"


def anomaly(record: dict[str, Any]) -> str:
    score = record.get("anomaly_score")
    return f"{score} ({','.join(map(str, record.get('anomaly_codes') or []))})" if score else ""


# Records that hold others: a record whose parent span was not stored (the Agents SDK bridge's task and turn
# spans, the app's own spans) nests under the innermost of these that runs around it.
_CONTAINERS = RUNS | {"create_agent"}
_SLACK = timedelta(milliseconds=1)  # starts and latencies are kept to the millisecond


def trace_tree(records: list[dict[str, Any]]) -> str:
    """Records of one trace as an indented tree: each under its parent's record, or, when the parent span was not
    stored, under the innermost workflow or agent record that ran around it (so a run always nests)."""
    parents = nearest_parents(records)
    children: dict[str | None, list[dict[str, Any]]] = {}
    for record in sorted(records, key=run_order):
        children.setdefault(parents[record["span_id"]], []).append(record)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            mark = " ERROR: " + str(r.get("error_message")) if r.get("status") == "error" else ""
            step = f"[{r['step_index']}] " if isinstance(r.get("step_index"), int) else ""
            scored = f"  anomaly={anomaly(r)}" if r.get("anomaly_score") else ""
            lines.append(
                f"{'  ' * depth}{'└─ ' if depth else ''}{step}{r.get('name') or r.get('operation')}  model={r.get('model') or '-'}"
                f"  tokens={tokens(r)}  latency={_table.ms(r.get('latency_ms'))}"
                f"  cost={_table.cost(r.get('cost')) or '-'}{scored}{mark}"
            )
            walk(r["span_id"], depth + 1)

    walk(None, 0)
    return "\n".join(lines)


def run_order(record: dict[str, Any]) -> tuple[str, int]:
    """The order a run's records ran in: by start, then by the step index a framework gave them."""
    step = record.get("step_index")
    return record.get("started_at") or "", step if isinstance(step, int) else -1


def nearest_parents(records: list[dict[str, Any]]) -> dict[str, str | None]:
    """Each record's span id -> the span id of the record it nests under (None: a root)."""
    by_id = {r["span_id"]: r for r in records}
    spans = {r["span_id"]: _span_of(r) for r in records}
    containers = [r["span_id"] for r in records if r.get("operation") in _CONTAINERS and spans[r["span_id"]] is not None]
    found: dict[str, str | None] = {}
    for record in records:
        parent = record.get("parent_span_id")
        if parent in by_id:
            found[record["span_id"]] = parent
            continue
        around = [c for c in containers if c != record["span_id"] and _inside(spans[record["span_id"]], spans[c])]
        if record.get("operation") in _CONTAINERS:  # containers nest by an order with no ties, so never in a loop
            around = [c for c in around if _holds(by_id[c], spans[c], record, spans[record["span_id"]])]
        # the innermost: the latest start, then the shortest
        found[record["span_id"]] = max(around, key=lambda c: (spans[c][0], -_duration(spans[c]))) if around else None  # type: ignore[index]
    for span_id in found:  # a real link and a nesting by time could close a loop: such a record becomes a root
        seen, at = {span_id}, found[span_id]
        while at is not None and at not in seen:
            seen.add(at)
            at = found.get(at)
        if at is not None:
            found[span_id] = None
    return found


_RANK = {"invoke_workflow": 0, "invoke_agent": 1, "create_agent": 1}  # a workflow holds agents


def _holds(outer: dict[str, Any], outer_span: Any, inner: dict[str, Any], inner_span: Any) -> bool:
    """Whether container ``outer`` can hold container ``inner``: it runs longer, or as long (to the millisecond) but
    started first, or started together and ranks higher (a workflow holds its agent)."""
    def key(record: dict[str, Any], span: Any) -> tuple[Any, ...]:
        return (_duration(span), -span[0].timestamp(), -_RANK.get(record.get("operation", ""), 2), record["span_id"])

    return key(outer, outer_span) > key(inner, inner_span)


def _span_of(record: dict[str, Any]) -> tuple[datetime, datetime] | None:
    try:
        start = datetime.fromisoformat(str(record.get("started_at")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return start, start + timedelta(milliseconds=record.get("latency_ms") or 0)


def _inside(inner: tuple[datetime, datetime] | None, outer: tuple[datetime, datetime] | None) -> bool:
    return inner is not None and outer is not None and outer[0] - _SLACK <= inner[0] and inner[1] <= outer[1] + _SLACK


def _duration(span: tuple[datetime, datetime] | None) -> timedelta:
    return span[1] - span[0] if span is not None else timedelta(0)
