"""A sink that posts records to the AITracer API (SPEC §4) with httpx.

Session events go to the endpoints the AITracer SDK uses: ``POST /api/v1/sessions/``
(start), ``PATCH /api/v1/sessions/{id}/end/``, ``POST /api/v1/sessions/{id}/feedback/``
and ``POST /api/v1/sessions/{id}/events/``.
"""

from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import quote

import httpx
import orjson

from .exceptions import APIError, RateLimitError

_BATCH_PATH = "/api/v1/logs/batch/"
_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class HTTPSink:
    """Sends each batch as one ``POST /api/v1/logs/batch/``; raises :class:`APIError` on failure."""

    def __init__(self, base_url: str, api_key: str, client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + _BATCH_PATH
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._client = client or httpx.Client(timeout=_TIMEOUT)

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self._send("POST", self.url, {"logs": list(records)})

    def write_events(self, events: Sequence[dict[str, Any]]) -> None:
        """One request per event, in order; the first failure fails the rest of the batch."""
        for event in events:
            method, path = _event_endpoint(event)
            self._send(method, self.base_url + path, {k: v for k, v in event.items() if k != "type"})

    def _send(self, method: str, url: str, body: Any) -> None:
        try:
            response = self._client.request(method, url, content=orjson.dumps(body), headers=self._headers)
        except httpx.HTTPError as exc:
            raise APIError(f"cannot reach {url}: {exc}") from exc
        if response.status_code == 429:
            raise RateLimitError("AITracer API rate limit", status_code=429)
        if response.status_code >= 300:
            raise APIError(f"AITracer API answered {response.status_code}: {response.text[:200]}", status_code=response.status_code)

    def close(self) -> None:
        self._client.close()


_SESSIONS = "/api/v1/sessions/"


def _event_endpoint(event: dict[str, Any]) -> tuple[str, str]:
    kind, session = event["type"], quote(event["session_id"], safe="")
    if kind == "session_start":
        return "POST", _SESSIONS
    if kind == "session_end":
        return "PATCH", f"{_SESSIONS}{session}/end/"
    return "POST", f"{_SESSIONS}{session}/{'feedback' if kind == 'feedback' else 'events'}/"
