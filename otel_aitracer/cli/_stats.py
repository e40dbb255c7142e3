"""``stats --by``: requests, tokens, cost, errors and latency percentiles per group."""

from __future__ import annotations

import math
from typing import Any

from . import _table

GROUPS = {"project": "project", "user": "app_user_id", "model": "model", "session": "session_id"}


def percentile(values: list[int], p: float) -> int | None:
    """Nearest-rank percentile (the value at rank ceil(p/100 * n))."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summarize(records: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    field = GROUPS[by]
    groups: dict[Any, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record.get(field), []).append(record)
    rows = []
    for key, members in groups.items():
        latencies = [int(r.get("latency_ms") or 0) for r in members]
        costs = [r["cost"] for r in members if r.get("cost") is not None]
        rows.append(
            {
                by: key,
                "requests": len(members),
                "input_tokens": sum(int(r.get("input_tokens") or 0) for r in members),
                "output_tokens": sum(int(r.get("output_tokens") or 0) for r in members),
                "cost": round(sum(costs), 9) if costs else None,
                "errors": sum(1 for r in members if r.get("status") == "error"),
                "p50_latency_ms": percentile(latencies, 50),
                "p95_latency_ms": percentile(latencies, 95),
            }
        )
    return sorted(rows, key=lambda row: (-row["requests"], str(row[by])))


def stats_table(rows: list[dict[str, Any]], by: str) -> str:
    headers = (by, "requests", "input tokens", "output tokens", "cost", "errors", "p50", "p95")
    return _table.table(
        headers,
        [
            (r[by] if r[by] is not None else "(none)", r["requests"], r["input_tokens"], r["output_tokens"],
             _table.cost(r["cost"]), r["errors"], _table.ms(r["p50_latency_ms"]), _table.ms(r["p95_latency_ms"]))
            for r in rows
        ],
    )  # fmt: skip
