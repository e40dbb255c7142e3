"""A sink that posts records to the AITracer API (SPEC §4) with httpx."""

from __future__ import annotations

from typing import Any, Sequence

import httpx
import orjson

from .exceptions import APIError, RateLimitError

_BATCH_PATH = "/api/v1/logs/batch/"
_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class HTTPSink:
    """Sends each batch as one ``POST /api/v1/logs/batch/``; raises :class:`APIError` on failure."""

    def __init__(self, base_url: str, api_key: str, client: httpx.Client | None = None) -> None:
        self.url = base_url.rstrip("/") + _BATCH_PATH
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._client = client or httpx.Client(timeout=_TIMEOUT)

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        try:
            response = self._client.post(self.url, content=orjson.dumps({"logs": list(records)}), headers=self._headers)
        except httpx.HTTPError as exc:
            raise APIError(f"cannot reach {self.url}: {exc}") from exc
        if response.status_code == 429:
            raise RateLimitError("AITracer API rate limit", status_code=429)
        if response.status_code >= 300:
            raise APIError(f"AITracer API answered {response.status_code}: {response.text[:200]}", status_code=response.status_code)

    def close(self) -> None:
        self._client.close()
