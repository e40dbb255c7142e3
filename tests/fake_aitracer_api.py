"""A stand-in for the AITracer API on 127.0.0.1: keeps every request, answers with ``status``.

``hold`` makes handlers wait until it is set, to show that nothing the application
calls waits for the API.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeAITracerAPI:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None, Any]] = []  # (method, path, authorization, JSON body)
        self.status = 201
        self.hold = threading.Event()
        self.hold.set()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.hold.wait(30)
                api.requests.append((self.command, self.path, self.headers["Authorization"], json.loads(body) if body else None))
                self.send_response(api.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = do_PATCH = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeAITracerAPI:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hold.set()
        self._server.shutdown()
        self._server.server_close()

    def paths(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _, _ in self.requests]
