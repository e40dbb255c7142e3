"""Alerts are posted by a thread of their own, with retries: the pipeline hands them over and goes on, so a
slow or dead destination never slows or fails recording. The queue is bounded; what does not fit is counted."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any

import httpx

from .._destinations._retry import RETRYABLE_STATUS, backoff
from .._fork import new_lock
from .._guard import warn_once
from .._record_kinds import CRITICAL
from ._config import AlertConfig, Destination
from ._destinations import request_for
from ._rules import Alert

_logger = logging.getLogger(__name__)
MAX_QUEUED = 1_000
ATTEMPTS = 3
TIMEOUT = 5.0


class Delivery:
    def __init__(self, config: AlertConfig) -> None:
        self.config = config
        self.counts = {"sent": 0, "failed": 0, "dropped": 0}
        self._queue: queue.Queue[tuple[Destination, Alert] | None] = queue.Queue(MAX_QUEUED)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = new_lock()  # fork-safe, like every lock of ours

    def send(self, alerts: list[Alert]) -> None:
        """Queue each alert for each of its rule's destinations (never blocks)."""
        self._ensure_thread()
        for alert in alerts:
            for name in alert.rule.destinations:
                try:
                    self._queue.put_nowait((self.config.destinations[name], alert))
                except queue.Full:
                    self.counts["dropped"] += 1
                    warn_once("alerts dropped", "otel-aitracer: the alert queue is full; alerts are dropped (counted)")

    def post(self, destination: Destination, alert: Alert, client: httpx.Client, attempts: int = ATTEMPTS) -> str | None:
        """Deliver one alert, retrying what may pass later; None when delivered, else why not."""
        url, body, headers = request_for(destination, alert, self.config.link)
        problem = "not tried"
        for attempt in range(1, attempts + 1):
            try:
                answer = client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__} ({exc})"
            else:
                if answer.status_code < 300:
                    return None
                problem = f"HTTP {answer.status_code}: {answer.text[:200]}"
                if answer.status_code not in RETRYABLE_STATUS:
                    break
            if attempt < attempts:
                time.sleep(min(backoff(attempt), 5.0))
        return problem

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued within ``timeout``, then stop."""
        thread = self._thread
        if thread is None or self._pid != os.getpid() or not thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():  # a forked child starts its own
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="otel-aitracer-alerts", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=TIMEOUT) as client:
            while (item := self._queue.get()) is not None:
                destination, alert = item
                problem = self.post(destination, alert, client)
                if problem is None:
                    self.counts["sent"] += 1
                else:
                    self.counts["failed"] += 1
                    warn_once(("alert failed", destination.name), "otel-aitracer: could not deliver an alert to %s: %s (later failures are counted)", destination.name, problem)


def test_ping(config: AlertConfig) -> dict[str, str | None]:
    """Send a test alert to every destination now; for each, None when it arrived, else why not."""
    from ._config import Rule

    delivery = Delivery(config)
    results: dict[str, str | None] = {}
    with httpx.Client(timeout=TIMEOUT) as client:
        for name, destination in config.destinations.items():
            rule = Rule("test ping", "critical_anomaly", "*", CRITICAL, 0, 1, (name,))
            alert = Alert(rule, "aitracer-test", CRITICAL, "a test ping from otel-aitracer alerts test: this destination works", _TEST_RECORD)
            results[name] = delivery.post(destination, alert, client, attempts=1)
    return results


_TEST_RECORD: dict[str, Any] = {"model": "test", "provider": "other", "operation": "chat", "anomaly_codes": [], "trace_id": "0" * 31 + "1", "span_id": "0" * 15 + "1"}
