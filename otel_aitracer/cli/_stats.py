"""``stats --by``: requests, tokens, cost, errors and latency percentiles per group (the store's database computes them)."""

from __future__ import annotations

from typing import Any, Sequence

from .._destinations._records_db import RecordsDB
from . import _table

GROUPS = {"project": "project", "user": "app_user_id", "model": "model", "session": "session_id"}


def summarize(
    store: RecordsDB, by: str, project: str | None = None, projects: Sequence[str] | None = None, limit: int = 100, order: str = "requests"
) -> list[dict[str, Any]]:
    """The first ``limit`` groups of ``by`` (a key of :data:`GROUPS`) by ``order``, aggregated by the store's database."""
    rows = store.stats(GROUPS[by], projects=projects, limit=limit, project=project, order=order)
    return [{by: row.pop("group"), **row} for row in rows]


def stats_table(rows: list[dict[str, Any]], by: str) -> str:
    headers = (by, "requests", "input tokens", "output tokens", "cost", "errors", "critical", "p50", "p95", "agent/tool records")
    return _table.table(
        headers,
        [
            (r[by] if r[by] is not None else "(none)", r["requests"], r["input_tokens"], r["output_tokens"],
             _table.cost(r["cost"]), r["errors"], r["critical"], _table.ms(r["p50_latency_ms"]), _table.ms(r["p95_latency_ms"]), r["other_records"])
            for r in rows
        ],
    )  # fmt: skip
