"""``logs`` and ``trace``: records from the store, as a table, a tree, or JSON."""

from __future__ import annotations

from typing import Any

from . import _table

# Operations whose records are model calls: their tokens are their own (an agent's or a tool's are not shown).
_MODEL_CALLS = frozenset({"chat", "generate_content", "text_completion", "embeddings"})
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
    if record.get("operation", "chat") not in _MODEL_CALLS:
        return "-"
    return f"{record.get('input_tokens', 0)}/{record.get('output_tokens', 0)}"


def anomaly(record: dict[str, Any]) -> str:
    score = record.get("anomaly_score")
    return f"{score} ({','.join(map(str, record.get('anomaly_codes') or []))})" if score else ""


def trace_tree(records: list[dict[str, Any]]) -> str:
    """Records of one trace as an indented tree; a record whose parent is not a record is a root."""
    by_id = {r["span_id"]: r for r in records}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: r.get("started_at", "")):
        parent = record.get("parent_span_id")
        children.setdefault(parent if parent in by_id else None, []).append(record)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            mark = " ERROR: " + str(r.get("error_message")) if r.get("status") == "error" else ""
            lines.append(
                f"{'  ' * depth}{'└─ ' if depth else ''}{r.get('name') or r.get('operation')}  model={r.get('model')}"
                f"  tokens={tokens(r)}  latency={_table.ms(r.get('latency_ms'))}"
                f"  cost={_table.cost(r.get('cost')) or '-'}{mark}"
            )
            walk(r["span_id"], depth + 1)

    walk(None, 0)
    return "\n".join(lines)
