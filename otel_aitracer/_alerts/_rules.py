"""Rules against the records as they are written: per rule and project, a window's counts, and whether the
rule already fired in it (a rule fires once per window). Bounded: at most :data:`MAX_STATES` (rule, project)
pairs, a window's latencies at most :data:`MAX_LATENCIES` (a reservoir past that)."""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from .._fork import new_lock
from .._record_kinds import MODEL_CALLS, operation_of
from .._scoring import explanation
from ._config import AlertConfig, Rule

MAX_STATES = 10_000
MAX_LATENCIES = 2_000


@dataclass(frozen=True)
class Alert:
    rule: Rule
    project: str
    value: float
    summary: str
    record: dict[str, Any] | None  # the record that tipped the rule over


@dataclass
class _Window:
    key: object = None
    calls: int = 0
    errors: int = 0
    cost: float = 0.0
    latencies: list[float] = field(default_factory=list)
    fired: bool = False


class Evaluator:
    """Thread-safe: the pipeline's worker, or serve's ingest threads."""

    def __init__(self, config: AlertConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._states: OrderedDict[tuple[str, str], _Window] = OrderedDict()
        self._lock = new_lock()  # fork-safe, like every lock of ours

    def observe(self, records: list[dict[str, Any]]) -> list[Alert]:
        now = self._clock()
        fired: list[Alert] = []
        with self._lock:
            for record in records:
                project = str(record.get("project"))
                for rule in self.config.rules:
                    if rule.applies_to(project):
                        alert = self._observe(rule, project, record, now)
                        if alert is not None:
                            fired.append(alert)
        return fired

    def _observe(self, rule: Rule, project: str, record: dict[str, Any], now: float) -> Alert | None:
        model_call = operation_of(record) in MODEL_CALLS  # error rate and latency are about calls, not the spans around them
        if rule.kind != "daily_cost" and not model_call:
            return None
        window = self._window(rule, project, _window_key(rule, now))
        if window.fired and rule.window:
            return None
        check = _CHECKS[rule.kind]
        value = check(rule, window, record)
        if value is None:
            return None
        window.fired = True
        return Alert(rule, project, value, _summary(rule, window, value, record), record)

    def _window(self, rule: Rule, project: str, key: object) -> _Window:
        state = self._states.pop((rule.name, project), None)
        if state is None or state.key != key:
            state = _Window(key)
        self._states[(rule.name, project)] = state
        while len(self._states) > MAX_STATES:
            self._states.popitem(last=False)
        return state


def _window_key(rule: Rule, now: float) -> object:
    if rule.kind == "daily_cost":
        return datetime.fromtimestamp(now, timezone.utc).date()
    return int(now // rule.window) if rule.window else None


def _error_rate(rule: Rule, window: _Window, record: dict[str, Any]) -> float | None:
    window.calls += 1
    window.errors += record.get("status") == "error"
    rate = window.errors / window.calls
    return rate if window.calls >= rule.min_calls and rate > rule.threshold else None


def _daily_cost(rule: Rule, window: _Window, record: dict[str, Any]) -> float | None:
    cost = record.get("cost")
    if isinstance(cost, (int, float)):
        window.cost += cost
    return window.cost if window.cost > rule.threshold else None


def _p95_latency(rule: Rule, window: _Window, record: dict[str, Any]) -> float | None:
    latency = float(record.get("latency_ms") or 0)
    window.calls += 1
    if len(window.latencies) < MAX_LATENCIES:
        window.latencies.append(latency)
    else:
        slot = random.randrange(window.calls)
        if slot < MAX_LATENCIES:
            window.latencies[slot] = latency
    if window.calls < rule.min_calls or latency <= rule.threshold:  # only a slow call can lift the p95 over
        return None
    ordered = sorted(window.latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return p95 if p95 > rule.threshold else None


def _critical_anomaly(rule: Rule, window: _Window, record: dict[str, Any]) -> float | None:
    score = record.get("anomaly_score")
    return float(score) if isinstance(score, int) and score >= rule.threshold else None


_CHECKS: dict[str, Callable[[Rule, _Window, dict[str, Any]], float | None]] = {
    "error_rate": _error_rate,
    "daily_cost": _daily_cost,
    "p95_latency": _p95_latency,
    "critical_anomaly": _critical_anomaly,
}


def _summary(rule: Rule, window: _Window, value: float, record: dict[str, Any]) -> str:
    span = _duration(rule.window)
    if rule.kind == "error_rate":
        return f"{window.errors} of {window.calls} calls failed ({value:.0%}) in {span}, over {rule.threshold:.0%}"
    if rule.kind == "daily_cost":
        return f"${value:.2f} spent today (UTC), over the ${rule.threshold:.2f} budget"
    if rule.kind == "p95_latency":
        return f"p95 latency {value:.0f} ms over {window.calls} calls in {span}, over {rule.threshold:.0f} ms"
    codes = record.get("anomaly_codes") or []
    return f"a {record.get('model') or record.get('operation')} call scored {value:.0f} points: {explanation(codes)}"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
