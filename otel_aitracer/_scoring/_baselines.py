"""L4 (behaviour): latency, cost, token ratio and stalls against each project's own baseline.

Static thresholds until a project has :data:`MIN_CALLS` scored calls, then 1.5 × the p95 of its recent
successful model calls (the p95 alone would flag one normal call in twenty by definition); an override
from ``AITRACER_ANOMALY_THRESHOLDS`` wins. The recent calls are a ring of the last :data:`WINDOW` values
per project and metric (8 bytes each: 12 KB per project, at most :data:`MAX_PROJECTS` projects): the
exact p95 of recent calls, recomputed every :data:`RECOMPUTE_EVERY` calls (a sort of the window costs
about 25 µs: every 16 calls it was a third of a record's scoring). Its state can be saved and
loaded, so a restart keeps the baselines where a store exists.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from typing import Any, Mapping

from .._fork import new_lock
from ._codes import L4_MAX_POINTS

METRICS = ("latency_ms", "cost", "token_ratio")
STATIC = {"latency_ms": 20_000.0, "cost": 0.50, "token_ratio": 50.0}
MIN_CALLS = 30
WINDOW = 512
RECOMPUTE_EVERY = 64
MAX_PROJECTS = 1000
HEADROOM = 1.5
STALL_OUTPUT_TOKENS = 10  # fewer output tokens than this, after a latency over the threshold: a stall
RATIO_MIN_INPUT = 50  # a token ratio means little on a prompt shorter than this
_CODES = {"latency_ms": 4001, "cost": 4002, "token_ratio": 4003}


class _Window:
    """The last :data:`WINDOW` values of one metric, and their p95 (recomputed now and then)."""

    __slots__ = ("values", "seen", "_p95", "_stale")

    def __init__(self, values: list[float] | None = None, seen: int = 0) -> None:
        self.values = array("d", (values or [])[-WINDOW:])
        self.seen = max(seen, len(self.values))
        self._p95: float | None = None
        self._stale = True

    def add(self, value: float) -> None:
        if len(self.values) < WINDOW:
            self.values.append(value)
        else:
            self.values[self.seen % WINDOW] = value
        self.seen += 1
        self._stale = self._stale or self.seen % RECOMPUTE_EVERY == 0

    def p95(self) -> float:
        if self._stale or self._p95 is None:
            ordered = sorted(self.values)
            self._p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0
            self._stale = False
        return self._p95


class Baselines:
    """Per-project windows; thread-safe (the pipeline's worker, or serve's ingest threads)."""

    def __init__(self, overrides: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self._overrides = {project: dict(values) for project, values in (overrides or {}).items()}
        self._projects: OrderedDict[str, dict[str, _Window]] = OrderedDict()
        self._changed: set[str] = set()  # projects whose windows changed since :meth:`take_changed`
        self._limits: dict[str, list[float]] = {}  # each project's thresholds, until its windows change
        self._lock = new_lock()  # fork-safe, like every lock of ours

    def codes(self, record: dict[str, Any]) -> list[tuple[int, int]]:
        """The L4 codes of a model call and their points, against its project's baseline as it stands."""
        values = _values(record)
        project = str(record.get("project"))
        found = []
        with self._lock:
            limits = self._limits.get(project)
            if limits is None:  # a batch's calls are judged before any is learned: its project's thresholds once
                windows = self._windows(project)
                limits = self._limits[project] = [self._threshold(project, metric, windows[metric]) for metric in METRICS]
        for metric, value, limit in zip(METRICS, values, limits):
            if value is not None and value > limit > 0:
                found.append((_CODES[metric], _points(value / limit)))
        latency, latency_limit = values[0], limits[0]
        if latency is not None and latency > latency_limit and (record.get("output_tokens") or 0) < STALL_OUTPUT_TOKENS:
            found.append((4004, _points(latency / latency_limit)))
        return found

    def learn(self, record: dict[str, Any]) -> None:
        """A successful call joins its project's baseline."""
        if record.get("status") != "success":
            return
        project = str(record.get("project"))
        with self._lock:
            windows = self._windows(project)
            self._changed.add(project)
            self._limits.pop(project, None)
            for metric, value in zip(METRICS, _values(record)):
                if value is not None:
                    windows[metric].add(value)

    def thresholds(self, project: str) -> dict[str, float]:
        """What each metric is compared with for ``project`` now (``stats`` and the tests show it)."""
        with self._lock:
            windows = self._projects.get(project) or {m: _Window() for m in METRICS}
            return {metric: self._threshold(project, metric, windows[metric]) for metric in METRICS}

    def take_changed(self) -> dict[str, dict[str, Any]]:
        """The state of each project whose baseline changed since the last call (to keep in a store)."""
        with self._lock:
            changed, self._changed = self._changed, set()
            return {p: {m: {"values": list(w.values), "seen": w.seen} for m, w in self._projects[p].items()} for p in changed if p in self._projects}

    def load(self, states: Mapping[str, Any]) -> None:
        """Project baselines kept by :meth:`take_changed` (a bad one is skipped: it only costs warm-up again)."""
        with self._lock:
            self._limits.clear()
            for project, metrics in list(states.items())[-MAX_PROJECTS:]:
                try:
                    self._projects[project] = {m: _Window([float(v) for v in metrics[m]["values"]], int(metrics[m]["seen"])) for m in METRICS}
                except (KeyError, TypeError, ValueError):
                    continue

    def _windows(self, project: str) -> dict[str, _Window]:
        windows = self._projects.get(project)
        if windows is not None:
            self._projects.move_to_end(project)  # most recently used last
            return windows
        windows = self._projects[project] = {m: _Window() for m in METRICS}
        while len(self._projects) > MAX_PROJECTS:
            evicted, _ = self._projects.popitem(last=False)
            self._limits.pop(evicted, None)
        return windows

    def _threshold(self, project: str, metric: str, window: _Window) -> float:
        if self._overrides:
            override = self._overrides.get(project, {}).get(metric, self._overrides.get("*", {}).get(metric))
            if override is not None:
                return float(override)
        if window.seen >= MIN_CALLS:
            return window.p95() * HEADROOM
        return STATIC[metric]


def _values(record: dict[str, Any]) -> tuple[float | None, ...]:
    """The record's :data:`METRICS`, in that order (None where it has none)."""
    input_tokens, output_tokens = record.get("input_tokens") or 0, record.get("output_tokens") or 0
    cost = record.get("cost")
    return (
        float(record.get("latency_ms") or 0),
        float(cost) if isinstance(cost, (int, float)) else None,
        output_tokens / input_tokens if input_tokens >= RATIO_MIN_INPUT else None,
    )


def _points(times_over: float) -> int:
    """10 points just past the threshold, up to 25 at three times it."""
    return min(L4_MAX_POINTS, 10 + int(15 * max(0.0, times_over - 1) / 2))
