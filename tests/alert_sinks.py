"""Fake Slack incoming-webhook and Sentry envelope endpoints on 127.0.0.1: what they received, and answers
chosen by the test (``statuses``: the status of each request in turn, 200 after)."""

from __future__ import annotations

import json
from typing import Any

from otel_aitracer.demo._fake_http import FakeHandler, FakeServer


class AlertSinks(FakeServer):
    def __init__(self, statuses: list[int] | None = None) -> None:
        super().__init__(_Handler)
        self.statuses = list(statuses or [])

    def slack(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"] == "/slack/T000/B000/XXXX"]

    def sentry(self) -> list[dict[str, Any]]:
        """Each envelope: its headers, and its event item parsed."""
        found = []
        for r in self.requests:
            if r["path"] == "/api/42/envelope/":
                header, item_header, event = (json.loads(line) for line in r["raw"].decode().strip().split("\n"))
                found.append({"headers": r["headers"], "envelope": header, "item": item_header, "event": event})
        return found


class _Handler(FakeHandler):
    server_state: AlertSinks

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw) if self.path.startswith("/slack/") else None
        status = self.server_state.statuses.pop(0) if self.server_state.statuses else 200
        self.server_state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body, "raw": raw, "status": status})
        self.send_json(status, {"ok": status < 300})
