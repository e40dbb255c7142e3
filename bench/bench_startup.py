"""Start-up: ``import otel_aitracer`` and ``register()`` in a fresh interpreter, with every supported SDK
installed, now and at an earlier revision (unpacked with ``git archive``). Prints medians; asserts nothing.

    .venv/bin/python bench/bench_startup.py [--runs 7] [--previous 941ac1d]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CHILD = """
import json, sys, tempfile, time
started = time.perf_counter()
import otel_aitracer
imported = time.perf_counter()
otel_aitracer.register(store=tempfile.mktemp(suffix=".db"))
registered = time.perf_counter()
heavy = ("openai", "anthropic", "google.genai", "agents", "mcp", "genai_prices", "pydantic")
print(json.dumps([imported - started, registered - imported, sorted(m for m in heavy if m in sys.modules)]))
"""


def measure(path: str, runs: int) -> tuple[float, float, list[str]]:
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, cwd=path, env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin"})
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples), samples[-1][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--previous", default="941ac1d", help="git revision to compare with (default: %(default)s)")
    args = parser.parse_args()
    rows = [("now", *measure(str(ROOT), args.runs))]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.previous, "otel_aitracer", "instrumentors"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        rows.append((f"at {args.previous}", *measure(tmp, args.runs)))
    print(f"{'':<16}{'import s':>10}{'register() s':>14}  imported by then")
    for name, imported, registered, heavy in rows:
        print(f"{name:<16}{imported:>10.3f}{registered:>14.3f}  {', '.join(heavy) or '-'}")


if __name__ == "__main__":
    main()
