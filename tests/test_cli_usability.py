"""Issue 18's CLI defects, each as a user meets it: bare command, help, bad values, empty results, the demo's
closing hint, serve's port checks, model filters and trace id prefixes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from .helpers import ROOT, clean_env
from .server_process import free_port


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otel_aitracer", *args], capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = tmp_path_factory.mktemp("demo") / "demo.db"
    result = cli("demo", "--store", str(store))
    assert result.returncode == 0, result.stderr
    return str(store), result.stdout


def test_bare_command_prints_help():
    result = cli()
    assert result.returncode == 0 and "usage: otel-aitracer" in result.stdout and "logs" in result.stdout and "error" not in result.stderr


def test_every_option_has_help():
    from otel_aitracer.cli import _parser

    parser = _parser()
    missing = []
    for name, sub in parser._subparsers._group_actions[0].choices.items():  # type: ignore[union-attr]
        missing += [f"{name} {'/'.join(a.option_strings) or a.dest}" for a in sub._actions if a.help is None and a.dest != "help"]
    assert missing == []


def test_bad_values_are_clear_errors(demo):
    store, _ = demo
    status = cli("logs", "--store", store, "--status", "bogus")
    assert status.returncode == 2 and "invalid choice: 'bogus'" in status.stderr
    port = cli("serve", "--port", "99999")
    assert port.returncode == 2 and "port must be from 0 (any free one) to 65535" in port.stderr


def test_empty_results_say_so(demo):
    store, _ = demo
    result = cli("logs", "--store", store, "--user", "nobody")
    assert result.returncode == 0 and result.stdout.strip() == "no records match"


def test_the_demos_closing_hint_pastes(demo):
    store, printed = demo
    hint = [line for line in printed.splitlines() if line.startswith("Next: ")][-1].removeprefix("Next: ")
    assert "|" not in hint and store in hint
    path = ":".join(p for p in clean_env()["PATH"].split(":") if ".venv" not in p)  # nothing activated
    pasted = subprocess.run(["bash", "-c", hint], capture_output=True, text=True, env=clean_env(PATH=path), cwd="/", timeout=120)
    assert pasted.returncode == 0, pasted.stderr[-2000:]
    assert "gpt-4o-mini" in pasted.stdout and "requests" in pasted.stdout  # the logs table, then stats by model


def test_model_filter_matches_the_requested_or_the_answering_model(demo):
    store, _ = demo
    requested = json.loads(cli("logs", "--store", store, "--model", "gpt-4o-mini", "--json").stdout)
    answering = json.loads(cli("logs", "--store", store, "--model", "gpt-4o-mini-2024-07-18", "--json").stdout)
    assert requested and {r["span_id"] for r in requested} == {r["span_id"] for r in answering}


def test_trace_takes_an_id_prefix(demo):
    store, _ = demo
    records = json.loads(cli("logs", "--store", store, "--json").stdout)
    trace_id = records[0]["trace_id"]
    result = cli("trace", trace_id[:8], "--store", store)
    assert result.returncode == 0 and result.stdout.strip()
    too_short = cli("trace", trace_id[:2], "--store", store)
    assert too_short.returncode == 2 and "at least 4" in too_short.stderr


def test_a_busy_grpc_port_is_one_line_not_a_traceback(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("serve", "--store", str(tmp_path / "s.db"), "--port", str(free_port()), "--grpc-port", str(port), timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr and f"gRPC port {port} is in use" in result.stderr


def test_logs_fit_the_terminal_dropping_the_least_needed_columns_first(demo):
    store, _ = demo

    def logs(columns: int) -> list[str]:
        return in_a_terminal([sys.executable, "-m", "otel_aitracer", "logs", "--store", store], columns).splitlines()

    wide, narrow = logs(400), logs(100)
    assert wide[0].split() [-1] == "trace" and "name" in wide[0] and "step" in wide[0]
    assert max(map(len, narrow)) <= 100 and "trace" not in narrow[0] and "model" in narrow[0] and "cost" in narrow[0]
    assert len(narrow) == len(wide)  # every record still there
    piped = cli("logs", "--store", store).stdout.splitlines()
    assert piped[0].split()[-1] == "trace" and max(map(len, piped)) > 100  # to a pipe, nothing is cut


def in_a_terminal(command: list[str], columns: int) -> str:
    """What ``command`` prints to a real (pseudo-)terminal ``columns`` wide."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    main, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in clean_env().items() if k not in ("COLUMNS", "LINES")}  # pytest sets COLUMNS for its children
    process = subprocess.Popen(command, stdout=follower, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(main)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_agent_and_tool_records_show_a_dash_for_tokens_and_small_costs_are_readable():
    from otel_aitracer.cli._records import tokens
    from otel_aitracer.cli._table import cost

    assert tokens({"operation": "execute_tool", "input_tokens": 0, "output_tokens": 0}) == "-"
    assert tokens({"operation": "invoke_agent", "input_tokens": 40, "output_tokens": 9}) == "-"  # its calls' total, not its own
    assert tokens({"operation": "chat", "input_tokens": 40, "output_tokens": 9}) == "40/9"
    assert (cost(0.0000021), cost(0.000123), cost(0.0456), cost(0.0), cost(None)) == ("$0.0000021", "$0.00012", "$0.0456", "$0.0000", "")


def test_stats_count_model_calls_as_requests_and_agent_and_tool_records_apart(tmp_path):
    from otel_aitracer._destinations._store import SQLiteStore

    store = SQLiteStore(tmp_path / "r.db")

    def record(n: int, operation: str, model: str | None, latency: int) -> dict:
        return {"project": "p", "operation": operation, "model": model, "status": "success", "session_id": "s1", "trace_id": "a" * 32,
                "span_id": f"{n:016x}", "started_at": f"2026-11-27T10:00:0{n}Z", "latency_ms": latency, "input_tokens": 10, "output_tokens": 5}  # fmt: skip

    store.write([record(1, "invoke_workflow", None, 9000), record(2, "invoke_agent", "gpt-4o-mini", 8000), record(3, "chat", "gpt-4o-mini", 100),
                 record(4, "execute_tool", None, 7000), record(5, "chat", "gpt-4o-mini", 300)])  # fmt: skip
    (session,) = store.stats("session_id")
    assert (session["requests"], session["other_records"], session["input_tokens"]) == (2, 3, 20)
    assert session["p95_latency_ms"] == pytest.approx(300, rel=0.02)  # the agent's and the tool's latencies are not the calls'
    assert [(r["group"], r["requests"]) for r in store.stats("model")] == [("gpt-4o-mini", 2)]  # no "(none)" row


_AGENT_RUN = """
import asyncio
import otel_aitracer
pipeline = otel_aitracer.register(store={store!r})
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
from openai import AsyncOpenAI

@function_tool
def get_weather(city: str) -> str:
    return f"sunny in {{city}}"

client = AsyncOpenAI(base_url={base_url!r}, api_key="k", max_retries=0)
agent = Agent(name="weather_agent", model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client), tools=[get_weather])
asyncio.run(Runner.run(agent, "What is the weather in Paris?"))
pipeline.shutdown()
"""


def test_an_agent_run_nests_workflow_agent_steps(tmp_path):
    """The bridge's task and turn spans are not stored: each record still nests under the agent it ran in."""
    pytest.importorskip("agents")
    from otel_aitracer._destinations._store import SQLiteStore
    from otel_aitracer.demo.fake_openai import FakeOpenAIServer

    from .helpers import run_python

    store = str(tmp_path / "r.db")
    with FakeOpenAIServer() as fake:
        result = run_python(_AGENT_RUN.format(store=store, base_url=fake.base_url), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    (trace_id,) = {r["trace_id"] for r in SQLiteStore(store).query()}
    lines = cli("trace", trace_id, "--store", store).stdout.splitlines()
    depth = {line.strip().removeprefix("└─ ").split("  ")[0]: (len(line) - len(line.lstrip())) // 2 for line in lines}
    workflow = [k for k in depth if depth[k] == 0]
    assert len(workflow) == 1 and len(lines) >= 5, lines  # one root: the run
    agents = [k for k in depth if "invoke_agent weather_agent" in k and depth[k] == 1]
    steps = [k.split("] ", 1)[1] for k in depth if depth[k] == 2]
    assert agents and steps == ["chat gpt-4o-mini", "execute_tool get_weather", "chat gpt-4o-mini"], lines  # under the agent, in order
