"""Issue 12: under fork, bad spans, a full or read-only disk, a locked store and exit, the app is unharmed.

Each test runs the faulty situation for real (real fork, gunicorn, tmpfs mounts, a second
process holding SQLite's lock) and names the defect it pins down.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_aitracer import AITracerSpanProcessor
from otel_aitracer._destinations._store import SQLiteStore

from .helpers import ROOT, run_python

CHAT = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}


def _count(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]


# 5. fork() while the worker writes: children record normally and exit normally.
FORK_WHILE_WRITING = """
import multiprocessing, os, sys, threading, time
from opentelemetry.sdk.trace import TracerProvider
from otel_aitracer import AITracerSpanProcessor

processor = AITracerSpanProcessor(store=sys.argv[1], schedule_delay=0.001, max_batch_size=1)
provider = TracerProvider()
provider.add_span_processor(processor)
tracer = provider.get_tracer("t")
attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
stop = threading.Event()

def busy():   # keeps the worker inside store writes, so fork() lands on a held lock
    while not stop.is_set():
        tracer.start_span("chat parent", attributes=attrs).end()
        time.sleep(0.005)

threading.Thread(target=busy, daemon=True).start()

def child(n):
    for i in range(5):
        tracer.start_span(f"chat child-{n}-{i}", attributes=attrs).end()

if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    for n in range(12):
        p = multiprocessing.Process(target=child, args=(n,))
        p.start()
        p.join(20)
        assert p.exitcode == 0, (n, p.exitcode)
    stop.set()
    print("ok")
"""


def test_multiprocessing_children_forked_while_the_worker_writes_record_and_exit(tmp_path):
    script = tmp_path / "fork_app.py"
    script.write_text(FORK_WHILE_WRITING)
    store = tmp_path / "r.db"
    result = subprocess.run([sys.executable, str(script), str(store)], env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    names = [r["name"] for r in SQLiteStore(store).query()]
    assert sorted(n for n in names if n.startswith("chat child")) == sorted(f"chat child-{n}-{i}" for n in range(12) for i in range(5))


GUNICORN_APP = """
import os, threading
import otel_aitracer
from opentelemetry import trace

pipeline = otel_aitracer.register(store=os.environ["STORE"])
tracer = trace.get_tracer("app")
attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
stop = threading.Event()

def busy():   # the master's worker is writing when gunicorn forks
    for _ in range(400):
        tracer.start_span("chat preload", attributes=attrs).end()

threading.Thread(target=busy, daemon=True).start()

def app(environ, start_response):
    tracer.start_span(f"chat request {environ['PATH_INFO'][1:]}", attributes=attrs).end()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_preload_workers_record_every_request_and_stop_cleanly(tmp_path):
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    assert gunicorn, "gunicorn is a dev dependency"
    (tmp_path / "wsgi_app.py").write_text(GUNICORN_APP)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}", "STORE": str(tmp_path / "r.db")}
    server = subprocess.Popen(
        [gunicorn, "--preload", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "10", "wsgi_app:app"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        pids = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/warmup", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        for n in range(40):
            pids.add(httpx.get(f"http://127.0.0.1:{port}/{n}", timeout=10).text)
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=60)
    assert server.returncode == 0, out[-3000:]
    names = {r["name"] for r in SQLiteStore(tmp_path / "r.db").query()}
    assert {f"chat request {n}" for n in range(40)} <= names, out[-3000:]
    assert len(pids) >= 1


# 6. One bad span costs only itself, counted by reason.
def test_one_absurd_span_costs_only_itself(tmp_path):
    processor = AITracerSpanProcessor(store=tmp_path / "r.db", max_batch_size=256)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    nested: object = "deep"
    for _ in range(300):
        nested = [nested]
    deep = '[{"role": "user", "parts": [{"type": "text", "content": ' + __import__("json").dumps(nested) + "}]}]"
    bad = [
        {"gen_ai.input.messages": deep},
        {"gen_ai.usage.input_tokens": 2**63},
        {"gen_ai.usage.output_tokens": 1e30},
        {"gen_ai.usage.input_tokens": float("nan")},
    ]
    for n in range(10):
        tracer.start_span(f"chat good-{n}", attributes=CHAT).end()
        if n < len(bad):
            tracer.start_span(f"chat bad-{n}", attributes={**CHAT, **bad[n]}).end()
    assert processor.force_flush(10_000)
    stats = processor.stats()
    processor.shutdown()
    names = sorted(r["name"] for r in SQLiteStore(tmp_path / "r.db").query())
    assert [n for n in names if n.startswith("chat good")] == sorted(f"chat good-{n}" for n in range(10))
    assert sum(stats["dropped"].values()) + len([n for n in names if n.startswith("chat bad")]) == len(bad)
    assert stats["dropped"]["sink_error"] == 0


# 7. A full disk under the spool never raises into the app.
@contextlib.contextmanager
def _tmpfs(path: Path, options: str):
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_under_the_spool_never_raises_into_the_app(tmp_path):
    with _tmpfs(tmp_path / "small", "size=512k,mode=0700") as spool_dir:
        result = run_python(
            """
            import os
            from opentelemetry.sdk.trace import TracerProvider
            from otel_aitracer import AITracerSpanProcessor
            processor = AITracerSpanProcessor(api_key="at-k", base_url="http://127.0.0.1:9", sync=True)
            provider = TracerProvider()
            provider.add_span_processor(processor)
            with open(os.path.join(os.environ["AITRACER_SPOOL_DIR"], "filler"), "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(os.urandom(16384))
                except OSError:
                    pass
            attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.input.messages": os.urandom(40000).hex()}
            for n in range(5):
                provider.get_tracer("t").start_span("chat", attributes=attrs).end()
            print(processor.force_flush(500), processor.stats()["dropped"])
            processor.shutdown()
            """,
            env={"AITRACER_SPOOL_DIR": str(spool_dir)},
        )
    assert result.returncode == 0, result.stderr[-3000:]
    flushed, dropped = result.stdout.split(" ", 1)
    assert flushed in ("True", "False") and "'disk_full': 5" in dropped, result.stdout


# 8. A store that cannot be opened never fails the app's start-up.
@pytest.mark.parametrize("case", ["read_only_dir", "corrupt_file", "directory", "locked"])
def test_a_store_that_cannot_be_opened_never_fails_start_up(tmp_path, case):
    store = tmp_path / "data" / "aitracer.db"
    holder = None
    context = contextlib.nullcontext()
    if case == "read_only_dir":
        context = _tmpfs(store.parent, "size=64k,ro")
    elif case == "corrupt_file":
        store.parent.mkdir()
        store.write_bytes(b"this is not a database" * 100)
    elif case == "directory":
        store.mkdir(parents=True)
    else:
        store.parent.mkdir()
        SQLiteStore(store).close()
        holder = _hold_lock(store, seconds=12)
    try:
        with context:
            result = run_python(
                f"""
                import otel_aitracer
                from otel_aitracer import AITracer
                pipeline = otel_aitracer.register(store={str(store)!r}, instrument=False)
                tracer = AITracer(store={str(store)!r})
                tracer.log(model="gpt-4o-mini", provider="openai", input_tokens=1, output_tokens=1)
                print("started")
                """,
                timeout=60,
            )
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("started")
    if case != "locked":  # a locked store of the current schema opens without writing: its writes wait in the worker
        assert "cannot open the store" in result.stderr


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    code = f"""
        import sqlite3, sys, time
        conn = sqlite3.connect({str(path)!r}, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep({seconds})
    """
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_records_wait_while_the_store_is_locked_and_land_when_it_frees(tmp_path):
    store = tmp_path / "r.db"
    SQLiteStore(store).close()
    holder = _hold_lock(store, seconds=3)
    try:
        processor = AITracerSpanProcessor(store=store, schedule_delay=0.05)
        provider = TracerProvider()
        provider.add_span_processor(processor)
        provider.get_tracer("t").start_span("chat", attributes=CHAT).end()
        holder.wait(10)
        assert processor.force_flush(20_000)
        processor.shutdown()
    finally:
        holder.kill()
    assert _count(store) == 1


# 9. Exit spends at most 2 s, even with the store locked by another process.
def test_exit_with_the_store_locked_elsewhere_keeps_the_two_second_budget(tmp_path):
    store = tmp_path / "r.db"
    SQLiteStore(store).close()
    holder = _hold_lock(store, seconds=60)
    try:
        code = f"""
            import sys, time
            import otel_aitracer
            from opentelemetry import trace
            otel_aitracer.register(store={str(store)!r}, instrument=False)
            for n in range(20):
                trace.get_tracer("t").start_span("chat", attributes={CHAT!r}).end()
            print(time.monotonic(), flush=True)
        """
        app = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = app.communicate(timeout=120)
        exited = time.monotonic()
    finally:
        holder.kill()
    assert app.returncode == 0, err[-3000:]
    assert exited - float(out.strip()) < 4.0, f"exit took {exited - float(out.strip()):.1f} s"
