"""How the user ran us, so a printed hint is a command that works when pasted: the script's path as they typed it
(``.venv/bin/otel-aitracer`` is not on PATH until the venv is activated), or ``python -m otel_aitracer``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def command(*args: str) -> str:
    """``args`` as a shell command line that runs otel-aitracer the way this process was run."""
    script = sys.argv[0] if sys.argv else ""
    prefix = [script] if Path(script).name == "otel-aitracer" else [sys.executable, "-m", "otel_aitracer"]
    return " ".join(shlex.quote(part) for part in (*prefix, *args))
