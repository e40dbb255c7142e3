"""A real ``otel-aitracer serve`` process on 127.0.0.1 for the tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .helpers import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, store: Path | str, keys: str | None = None, workers: int = 1, extra_env: dict[str, str] | None = None, grpc: bool = False) -> None:
        self.port = free_port()
        self.grpc_port = free_port() if grpc else None
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = store
        env = {k: v for k, v in os.environ.items() if not k.startswith("AITRACER_SERVER_")}
        env.update({"PYTHONPATH": str(ROOT), **(extra_env or {})})
        if keys is not None:
            env["AITRACER_SERVER_KEYS"] = keys
        command = [sys.executable, "-m", "otel_aitracer", "serve", "--port", str(self.port), "--store", str(store), "--workers", str(workers)]
        if self.grpc_port:
            command += ["--grpc-port", str(self.grpc_port)]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)  # -m: cwd first
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.process.stdout.read()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("serve did not become ready")

    def stop(self) -> str:
        self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out
