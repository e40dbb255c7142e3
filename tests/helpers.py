"""Helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment for a child process: no AITRACER_/OTEL_ settings but the test's spool and
    Kubernetes switch, this checkout importable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AITRACER_", "OTEL_")) or k in ("AITRACER_SPOOL_DIR", "AITRACER_K8S_ENDPOINT")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 60, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (global OTel state is per process); ``python`` another environment's."""
    return subprocess.run(
        [python, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=clean_env(**(env or {})), timeout=timeout, cwd=ROOT
    )


USER = [{"role": "user", "content": "What is OpenTelemetry?"}]
