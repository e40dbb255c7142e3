"""A stand-in for the AITracer API on 127.0.0.1 that keeps every request and can misbehave.

- ``status``: the answer when nothing else is scripted (201).
- ``script``: answers to give first, in order: ``(status, headers, delay_seconds)``.
- ``max_logs``: a batch with more records than this gets 413.
- ``hold``: handlers wait until it is set (to show nobody waits for the API).
- ``refuse``: ``body -> status or None``: a status for the bodies it picks (a poison request, say).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


class FakeAITracerAPI:
    def __init__(self, port: int = 0) -> None:
        self.requests: list[tuple[str, str, str | None, Any]] = []  # (method, path, authorization, JSON body)
        self.headers: list[dict[str, str]] = []
        self.times: list[float] = []
        self.statuses: list[int] = []
        self.status = 201
        self.script: deque[tuple[int, dict[str, str], float]] = deque()
        self.max_logs: int | None = None
        self.refuse: Callable[[Any], int | None] = lambda body: None
        self.hold = threading.Event()
        self.hold.set()
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                api.hold.wait(30)
                parsed = json.loads(body) if body else None
                status, headers, delay = api._answer(parsed)
                time.sleep(delay)
                with api._lock:
                    api.requests.append((self.command, self.path, self.headers["Authorization"], parsed))
                    api.headers.append(dict(self.headers))
                    api.times.append(time.monotonic())
                    api.statuses.append(status)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = do_PATCH = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _answer(self, body: Any) -> tuple[int, dict[str, str], float]:
        with self._lock:
            if self.script:
                return self.script.popleft()
        refused = self.refuse(body)
        if refused is not None:
            return refused, {}, 0.0
        if self.max_logs is not None and isinstance(body, dict) and len(body.get("logs", ())) > self.max_logs:
            return 413, {}, 0.0
        return self.status, {}, 0.0

    def __enter__(self) -> FakeAITracerAPI:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hold.set()
        self._server.shutdown()
        self._server.server_close()

    def paths(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _, _ in self.requests]

    def delivered(self) -> list[dict[str, Any]]:
        """Records of batches answered 2xx (a receiver keeps those), in arrival order."""
        answered = zip(self.requests, self.statuses)
        return [r for (_, path, _, body), status in answered if path == "/api/v1/logs/batch/" and status < 300 and body for r in body["logs"]]
