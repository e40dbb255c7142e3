"""Totals and latency histograms per group, kept as records are written and deleted, so ``stats`` reads groups, not records.

Every change to the ``records`` table goes through :class:`Delta`: a write adds the rows it
inserted (a span already stored adds nothing), a delete (the fold of an outer call, a stream's
request, retention) subtracts the rows it removed, in the same transaction, so the rollups
always equal the records they summarise. A group is a value of ``model``, ``session_id`` or
``app_user_id`` within a project; a project's own totals are the sum of its models.
Latency is kept as a histogram of 2 % wide bands (exact below 100 ms), so a percentile
read from it is within 1.5 % of the exact one.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, NamedTuple, Protocol, Sequence

from .._record_kinds import CRITICAL, MODEL_CALLS

# The record columns a rollup reads, in this order.
ROLLED = ("project", "model", "session_id", "app_user_id", "status", "latency_ms", "input_tokens", "output_tokens", "cost", "anomaly_score", "operation")
# What the rollups count changed (2: requests are model calls; agent, tool and workflow records are "other"): a
# store whose rollups were counted otherwise counts them again, once.
ROLLUPS_VERSION = 2
# Operations whose records are requests: model calls (a record without one is a call, in the seed's format).
_REQUESTS = MODEL_CALLS | {None}
DIMENSIONS = ("model", "session_id", "app_user_id")  # what stats can group by, besides project
# Sums are NUMERIC: a total of many huge token counts never overflows an engine's integer. {clustered}: SQLite's
# WITHOUT ROWID, so an upsert touches one B-tree, not a table and its key's index.
TABLES = (
    """CREATE TABLE IF NOT EXISTS rollup_totals (
        dimension TEXT NOT NULL, project TEXT NOT NULL, value TEXT NOT NULL, missing SMALLINT NOT NULL,
        requests NUMERIC NOT NULL, errors NUMERIC NOT NULL, input_tokens NUMERIC NOT NULL, output_tokens NUMERIC NOT NULL,
        cost NUMERIC NOT NULL, priced NUMERIC NOT NULL, critical NUMERIC NOT NULL DEFAULT 0, other NUMERIC NOT NULL DEFAULT 0,
        PRIMARY KEY (dimension, project, value, missing)){clustered}""",
    """CREATE TABLE IF NOT EXISTS rollup_latency (
        dimension TEXT NOT NULL, project TEXT NOT NULL, value TEXT NOT NULL, missing SMALLINT NOT NULL, bucket BIGINT NOT NULL,
        requests NUMERIC NOT NULL, PRIMARY KEY (dimension, project, value, missing, bucket)){clustered}""",
)
_TOTALS = ("requests", "errors", "input_tokens", "output_tokens", "cost", "priced", "critical", "other")
# Columns added to rollup_totals after it first shipped (a store that predates them gets them, zero for old records).
ADDED_TOTALS = {"critical": "NUMERIC NOT NULL DEFAULT 0", "other": "NUMERIC NOT NULL DEFAULT 0"}


class Sums(NamedTuple):
    """A table whose rows are sums by key: rows added to it add to the sums of their keys (an upsert)."""

    table: str
    keys: tuple[str, ...]
    sums: tuple[str, ...]

    def upsert(self, source: str) -> str:
        """The one statement that adds the rows of ``source`` (``VALUES (?, …)`` or a ``SELECT``) to the sums."""
        columns = (*self.keys, *self.sums)
        return (f"INSERT INTO {self.table} ({', '.join(columns)}) {source} ON CONFLICT ({', '.join(self.keys)}) DO UPDATE SET "
                + ", ".join(f"{c} = {self.table}.{c} + excluded.{c}" for c in self.sums))  # fmt: skip

    def values(self) -> str:
        return f"VALUES ({', '.join('?' * (len(self.keys) + len(self.sums)))})"


_GROUP = ("dimension", "project", "value", "missing")
TOTALS = Sums("rollup_totals", _GROUP, _TOTALS)
LATENCY = Sums("rollup_latency", (*_GROUP, "bucket"), ("requests",))
_GAMMA = 1.02  # each band's top is 2 % above its bottom
_LOG_GAMMA = math.log(_GAMMA)
_EXACT_BELOW = 100  # ms


class _Writer(Protocol):
    def add_sums(self, sums: Sums, rows: Sequence[Sequence[Any]]) -> None: ...


def latency_bucket(latency_ms: int | None) -> int:
    """The value standing for ``latency_ms`` in a histogram: itself below 100 ms, else the middle of its 2 % band."""
    if latency_ms is None or latency_ms < _EXACT_BELOW:
        return max(0, latency_ms or 0)
    band = math.ceil(math.log(latency_ms) / _LOG_GAMMA)
    return round(2 * _GAMMA**band / (_GAMMA + 1))


class Delta:
    """What a set of record rows (columns :data:`ROLLED`) adds to or takes from the rollups; applied in one go."""

    def __init__(self) -> None:
        self._totals: dict[tuple[Any, ...], list[Any]] = {}  # (dimension, project, value, missing) -> sums
        self._latency: dict[tuple[Any, ...], int] = {}  # (dimension, project, value, missing, bucket) -> requests

    def add(self, rows: Iterable[Sequence[Any]], sign: int = 1) -> int:
        """Count ``rows`` (``sign`` -1: rows deleted); returns how many. A model call is a request (its tokens, cost,
        errors and latency); an agent, tool or workflow record only counts as ``other``."""
        counted = 0
        totals, latency = self._totals, self._latency
        for project, model, session_id, user, status, latency_ms, input_tokens, output_tokens, cost, score, operation in rows:
            keys = (("model", project, model, 0) if model is not None else ("model", project, "", 1),
                    ("session_id", project, session_id, 0) if session_id is not None else ("session_id", project, "", 1),
                    ("app_user_id", project, user, 0) if user is not None else ("app_user_id", project, "", 1))  # fmt: skip
            counted += 1
            if operation not in _REQUESTS:
                for key in keys:
                    totals.setdefault(key, [0, 0, 0, 0, 0.0, 0, 0, 0])[7] += sign
                continue
            error = sign if status == "error" else 0
            critical = sign if score is not None and score >= CRITICAL else 0
            input_tokens, output_tokens = sign * (input_tokens or 0), sign * (output_tokens or 0)
            priced, cost = (0, 0.0) if cost is None else (sign, sign * cost)
            bucket = latency_bucket(latency_ms)
            for key in keys:
                group = totals.get(key)
                if group is None:
                    totals[key] = [sign, error, input_tokens, output_tokens, cost, priced, critical, 0]
                else:
                    group[0] += sign
                    group[1] += error
                    group[2] += input_tokens
                    group[3] += output_tokens
                    group[4] += cost
                    group[5] += priced
                    group[6] += critical
                banded = key + (bucket,)
                latency[banded] = latency.get(banded, 0) + sign
        return counted

    def apply(self, tx: _Writer) -> None:
        """Add the counted change to the rollup tables within ``tx`` (the transaction that changed the records)."""
        if self._totals:
            tx.add_sums(TOTALS, [(*key, *map(_storable, totals)) for key, totals in self._totals.items()])
        latency = [(*key, _storable(n)) for key, n in self._latency.items() if n]
        if latency:
            tx.add_sums(LATENCY, latency)
        self._totals.clear()
        self._latency.clear()


def _storable(amount: Any) -> Any:
    """An integer sum beyond 64 bits goes to the database as a float (SQLite's integers stop there; the column is NUMERIC)."""
    return float(amount) if isinstance(amount, int) and not -(2**63) <= amount < 2**63 else amount


def rank_value(histogram: Sequence[tuple[int, int]], percent: int) -> int | None:
    """The value holding rank ceil(percent/100 * n) of an ascending ``(value, count)`` histogram (nearest rank)."""
    total = sum(count for _, count in histogram)
    if total <= 0:
        return None
    rank = (percent * total + 99) // 100
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= rank:
            return value
    return histogram[-1][0]
