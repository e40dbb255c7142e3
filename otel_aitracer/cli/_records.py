"""``logs`` and ``trace``: records from the store, as a table, a tree, or JSON."""

from __future__ import annotations

from typing import Any

from . import _table


def logs_table(records: list[dict[str, Any]]) -> str:
    rows = [
        (
            r.get("started_at", "")[:19].replace("T", " "),
            r.get("project"),
            r.get("operation"),
            r.get("model"),
            r.get("status"),
            f"{r.get('input_tokens', 0)}/{r.get('output_tokens', 0)}",
            _table.ms(r.get("latency_ms")),
            _table.cost(r.get("cost")),
            r.get("session_id"),
            r.get("app_user_id"),
            r.get("trace_id"),
        )
        for r in records
    ]
    headers = ("started (UTC)", "project", "op", "model", "status", "tokens in/out", "latency", "cost", "session", "user", "trace")
    return _table.table(headers, rows)


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
                f"  tokens={r.get('input_tokens', 0)}/{r.get('output_tokens', 0)}  latency={_table.ms(r.get('latency_ms'))}"
                f"  cost={_table.cost(r.get('cost')) or '-'}{mark}"
            )
            walk(r["span_id"], depth + 1)

    walk(None, 0)
    return "\n".join(lines)
