"""The second test environment: Google ADK 2.13 (google-genai 2.x, OpenTelemetry 1.44), Strands Agents 1.62
(openai 2.x) and mcp 1.30, which cannot install beside the dev extras. Built by pip on first use, rebuilt when
``compat_requirements.txt`` or ``pyproject.toml`` changes; tests run code in it with ``run_python(python=...)``."""

from __future__ import annotations

import hashlib
import subprocess
import venv

from .helpers import ROOT

REQUIREMENTS = ROOT / "tests" / "compat_requirements.txt"
HOME = ROOT / ".venv-compat"


def compat_python() -> str:
    """The compat environment's interpreter, installing it first if it is missing or stale."""
    python = HOME / "bin" / "python"
    stamp = HOME / "installed-from"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        venv.create(HOME, with_pip=True, clear=True)
        result = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], cwd=ROOT, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"could not install the compat environment:\n{result.stderr[-3000:]}")
        stamp.write_text(wanted)
    return str(python)
