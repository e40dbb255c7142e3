"""Helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (global OTel state is per process)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AITRACER_", "OTEL_")) or k in ("AITRACER_SPOOL_DIR", "AITRACER_K8S_ENDPOINT")}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT
    )


USER = [{"role": "user", "content": "What is OpenTelemetry?"}]
