"""The web UI on a big store: how long the calls page and a 200-step run's page take, on the server and in the
browser, and what the UI adds to the package. Prints; asserts nothing.

Fills a SQLite store with N records (``bench_reads.fill``: 1,000,000 by default) and one run of 200 steps under a
workflow and an agent (this hour, so the calls page starts with it), starts ``otel-aitracer ui``, and takes the best
of three of each: the server's time (a plain GET) and the browser's (Debian's chromium: navigation start to load).

    .venv/bin/python bench/bench_ui.py [--records 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.bench_reads import fill  # noqa: E402
from otel_aitracer._destinations._store import SQLiteStore  # noqa: E402
from tests.browser import ARGS, chromium  # noqa: E402


def run_of(steps: int) -> list[dict]:
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    trace = "f" * 32

    def at(ms: int) -> str:
        return (start + timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z")

    records = [
        {"project": "bench", "trace_id": trace, "span_id": "a" * 16, "operation": "invoke_workflow", "name": "invoke_workflow big run", "model": None,
         "provider": "other", "status": "success", "started_at": at(0), "latency_ms": steps * 100 + 10, "input_tokens": 0, "output_tokens": 0},
        {"project": "bench", "trace_id": trace, "span_id": "b" * 16, "parent_span_id": "a" * 16, "operation": "invoke_agent", "name": "invoke_agent worker",
         "model": None, "provider": "other", "status": "success", "started_at": at(1), "latency_ms": steps * 100 + 5, "input_tokens": 0, "output_tokens": 0},
    ]  # fmt: skip
    for n in range(steps):
        records.append({"project": "bench", "trace_id": trace, "span_id": f"{n + 1:016x}", "parent_span_id": "c" * 16, "operation": "chat", "step_index": n,
                        "name": f"chat step {n}", "model": "gpt-4o-mini", "provider": "openai", "status": "success", "started_at": at(2 + n * 100),
                        "latency_ms": 90, "input_tokens": 300, "output_tokens": 80, "cost": 0.0001,
                        "input": {"messages": [{"role": "user", "content": f"step {n}: " + "context " * 60}]}, "output": {"role": "assistant", "content": "ok " * 40}})  # fmt: skip
    return records


def best(measure, times: int = 3) -> float:  # type: ignore[no-untyped-def]
    return min(measure() for _ in range(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.db"
        store = SQLiteStore(path)
        print(f"filling {args.records:,} records… ", end="", flush=True)
        print(f"{fill(store, args.records):.0f} s")
        store.write(run_of(200))
        port = 8790
        ui = subprocess.Popen([sys.executable, "-m", "otel_aitracer", "ui", "--store", str(path), "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(base + "/ui/calls", timeout=60)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            pages = {"runs (newest 50)": "/ui/runs", "calls (newest 50)": "/ui/calls", "a 200-step run": "/ui/traces/" + "f" * 32, "app users": "/ui/users", "charts (48 h)": "/ui/charts"}
            print(f"\n| page ({args.records:,} records) | server ms | browser ms (to load) | HTML KiB |\n|---|---|---|---|")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium(), args=ARGS)
                page = browser.new_page()
                for name, url in pages.items():
                    size = len(httpx.get(base + url, timeout=300).content) / 1024

                    def server() -> float:
                        started = time.perf_counter()
                        httpx.get(base + url, timeout=300)  # noqa: B023
                        return (time.perf_counter() - started) * 1000

                    def in_browser() -> float:
                        page.goto(base + url)  # noqa: B023
                        return float(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))

                    print(f"| {name} | {best(server):.0f} | {best(in_browser):.0f} | {size:.0f} |")
                browser.close()
        finally:
            ui.terminate()
            ui.wait(10)
    ui_dir = ROOT / "otel_aitracer" / "ui"
    own = sum(f.stat().st_size for f in ui_dir.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
    print(f"\nthe UI in the package: {own / 1024:.0f} KiB (module, templates, stylesheet); its extra adds jinja2, pygal, python-multipart:")
    for dist in ("jinja2", "pygal", "python_multipart", "markupsafe"):
        found = list(Path(httpx.__file__).parent.parent.glob(f"{dist}*")) + list(Path(httpx.__file__).parent.parent.glob(f"{dist.title()}*"))
        size = sum(f.stat().st_size for d in found for f in (d.rglob("*") if d.is_dir() else [d]) if f.is_file())
        print(f"  {dist}: {size / 1024:.0f} KiB installed")


if __name__ == "__main__":
    main()
