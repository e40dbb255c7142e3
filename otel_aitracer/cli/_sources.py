"""Where ``logs``, ``trace`` and ``stats`` read: the local store, or a running ``otel-aitracer serve``."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from .._config import safe_url
from .._destinations._records_db import RecordsDB
from ..exceptions import APIError, ConfigurationError
from . import _stats


class Source(Protocol):
    def logs(self, limit: int, order: str = "time", **filters: str | None) -> list[dict[str, Any]]: ...

    def trace(self, trace_id: str) -> list[dict[str, Any]]: ...

    def stats(self, by: str, project: str | None, order: str = "requests") -> list[dict[str, Any]]: ...


class StoreSource:
    def __init__(self, store: RecordsDB) -> None:
        self.store = store

    def logs(self, limit: int, order: str = "time", **filters: Any) -> list[dict[str, Any]]:
        return self.store.query(limit=limit, order=order, **filters)

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        return self.store.query(trace=trace_id, newest_first=False)

    def stats(self, by: str, project: str | None, order: str = "requests") -> list[dict[str, Any]]:
        return _stats.summarize(self.store, by, project, order=order)


class ServerSource:
    """Reads through the server's API with the same filters; ``api_key`` if the server has keys."""

    def __init__(self, url: str, api_key: str | None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"--server must be an http(s) URL, got {url!r}")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            answer = self._client.get(path, params={k: v for k, v in (params or {}).items() if v is not None})
        except httpx.HTTPError as exc:
            raise APIError(f"cannot reach {safe_url(str(self._client.base_url))}: {type(exc).__name__}") from exc
        if answer.status_code == 404:
            return None
        if answer.status_code >= 400:
            raise APIError(f"{safe_url(str(self._client.base_url))} answered {answer.status_code}: {answer.text[:200]}", answer.status_code)
        return answer.json()

    def logs(self, limit: int, order: str = "time", **filters: str | None) -> list[dict[str, Any]]:
        return self._get("/api/v1/logs", {"limit": limit, "sort": order, **filters})["logs"]

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        found = self._get(f"/api/v1/traces/{trace_id}")
        return found["logs"] if found else []

    def stats(self, by: str, project: str | None, order: str = "requests") -> list[dict[str, Any]]:
        return self._get("/api/v1/stats", {"by": by, "project": project, "sort": order})["stats"]
