"""Alerts (SPEC §9): per-project rules (error rate over a window, a daily cost budget, p95 latency, critical
anomalies) checked as records are written, delivered to Slack and Sentry off the app's thread."""

from __future__ import annotations

from typing import Any

from ._config import AlertConfig, load_alerts
from ._delivery import Delivery, test_ping
from ._rules import Evaluator


class Alerts:
    """Checks each batch of scored records against the rules and hands what fires to the delivery thread."""

    def __init__(self, config: AlertConfig) -> None:
        self.evaluator = Evaluator(config)
        self.delivery = Delivery(config)

    def observe(self, records: list[dict[str, Any]]) -> None:
        fired = self.evaluator.observe(records)
        if fired:
            self.delivery.send(fired)

    def close(self, timeout: float = 5.0) -> None:
        self.delivery.close(timeout)


__all__ = ["AlertConfig", "Alerts", "load_alerts", "test_ping"]
