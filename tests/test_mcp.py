"""MCP across two processes: a real server over stdio in a child process, a real ``ClientSession``, both
recording to one SQLite store through ``register()``; the server's spans join the client's trace. Each test
runs on mcp 2.x (the dev environment; the SDK makes spans, we make them conventional) and on mcp 1.30 (the
compat environment, ``tests/compat_env.py``; it makes none, we make them)."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
import wrapt

from otel_aitracer._destinations._store import SQLiteStore

from .compat_env import compat_python
from .helpers import ROOT, run_python

_SERVER = """
import sys
import otel_aitracer
pipeline = otel_aitracer.register(store=sys.argv[1])
try:
    from mcp.server.mcpserver import MCPServer
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as MCPServer
app = MCPServer("weather")

@app.tool()
def get_weather(city: str) -> str:
    \"\"\"The weather in a city.\"\"\"
    if city == "Atlantis":
        raise ValueError("no such city")
    return f"sunny in {city}"

try:
    app.run("stdio")
finally:
    pipeline.shutdown()
"""

_CLIENT = """
import asyncio, json, sys
import otel_aitracer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
pipeline = otel_aitracer.register(store={store!r})
spans = InMemorySpanExporter()
pipeline.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from opentelemetry import trace
tracer = trace.get_tracer("app")

async def main():
    params = StdioServerParameters(command=sys.executable, args=[{server!r}, {store!r}], env={{"PYTHONPATH": {root!r}, "PATH": "/usr/bin:/bin"}})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            with tracer.start_as_current_span("app work"):
{calls}

asyncio.run(main())
pipeline.shutdown()
print(json.dumps([{{"name": s.name, "kind": s.kind.name, "status": s.status.status_code.name, "span_id": format(s.context.span_id, "016x"), "attributes": dict(s.attributes)}} for s in spans.get_finished_spans()]))
"""


@pytest.fixture(params=["mcp 2", "mcp 1"])
def python(request) -> str:
    """The interpreter of an environment with that mcp."""
    if request.param == "mcp 2":
        pytest.importorskip("mcp.server.mcpserver", reason="mcp 2.x is part of the dev install")
        return sys.executable
    return compat_python()


def _run(tmp_path, calls: str, python: str) -> tuple[list[dict], list[dict]]:
    server = tmp_path / "server.py"
    server.write_text(textwrap.dedent(_SERVER))
    store = str(tmp_path / "r.db")
    code = _CLIENT.format(store=store, server=str(server), root=str(ROOT), calls=textwrap.indent(textwrap.dedent(calls), " " * 16))
    result = run_python(code, timeout=120, python=python)
    assert result.returncode == 0, result.stderr[-3000:]
    client_spans = json.loads(result.stdout.strip().splitlines()[-1])
    return client_spans, SQLiteStore(store).query()


def test_a_tool_call_is_a_client_record_and_a_server_record_in_one_trace(tmp_path, python):
    spans, records = _run(tmp_path, 'await session.call_tool("get_weather", {"city": "Paris"})\nawait session.call_tool("get_weather", {"city": "Atlantis"})', python)
    (app,) = [s for s in spans if s["name"] == "app work"]
    calls = [s for s in spans if s["kind"] == "CLIENT" and s["attributes"].get("mcp.method.name") == "tools/call"]
    assert [s["name"] for s in calls] == ["tools/call get_weather", "tools/call get_weather"]  # the conventions' name
    for span in calls:
        assert span["attributes"]["gen_ai.operation.name"] == "execute_tool" and span["attributes"]["gen_ai.tool.name"] == "get_weather"
        assert span["attributes"]["mcp.protocol.version"]  # negotiated by initialize()
    by_span = {r["span_id"]: r for r in records}
    assert [s["status"] for s in calls] == ["UNSET", "ERROR"]  # the tool's isError fails the client span too
    assert calls[1]["attributes"]["error.type"] == "tool_error"
    for call, status in zip(calls, ("success", "error")):
        client = by_span[call["span_id"]]
        assert client["status"] == status
        (server,) = [r for r in records if r["parent_span_id"] == call["span_id"]]  # written by the other process
        assert (client["operation"], client["tool_name"], client["parent_span_id"]) == ("execute_tool", "get_weather", app["span_id"])
        assert (server["operation"], server["tool_name"], server["status"]) == ("execute_tool", "get_weather", status)
        assert server["trace_id"] == client["trace_id"]


def test_a_framework_tool_span_around_the_call_is_enriched_not_nested(tmp_path, python):
    calls = """
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"}
    with tracer.start_as_current_span("execute_tool get_weather", attributes=attributes):
        await session.call_tool("get_weather", {"city": "Paris"})
    """
    spans, records = _run(tmp_path, calls, python)
    tools = [s for s in spans if s["attributes"].get("gen_ai.operation.name") == "execute_tool"]
    assert len(tools) == 1 and tools[0]["attributes"]["mcp.method.name"] == "tools/call"  # one tool span, with MCP's attributes
    (outer,) = tools
    (server,) = [r for r in records if r["parent_span_id"] == outer["span_id"]]
    assert server["tool_name"] == "get_weather"
    assert sorted(r["operation"] for r in records) == ["execute_tool", "execute_tool"]


def test_uninstrument_gives_the_sdk_its_own_helper_back():
    dispatcher = pytest.importorskip("mcp.shared.jsonrpc_dispatcher", reason="mcp 2.x is part of the dev install")

    from instrumentors.mcp import MCPInstrumentor

    before = dispatcher.otel_span
    instrumentor = MCPInstrumentor()
    instrumentor.instrument()
    assert isinstance(dispatcher.otel_span, wrapt.FunctionWrapper)
    instrumentor.uninstrument()
    assert dispatcher.otel_span is before


def test_uninstrument_on_mcp_1_gives_back_what_it_wrapped():
    code = """
    from instrumentors.mcp import MCPInstrumentor
    instrumentor = MCPInstrumentor()
    instrumentor.instrument()
    import mcp.client.session as client, mcp.server.lowlevel.server as server, mcp.shared.session as shared
    places = ((client.ClientSession, "send_request"), (server.Server, "_handle_request"), (shared.RequestResponder, "respond"))
    print([hasattr(getattr(owner, name), "__wrapped__") for owner, name in places])
    instrumentor.uninstrument()
    print([hasattr(getattr(owner, name), "__wrapped__") for owner, name in places])
    """
    result = run_python(code, python=compat_python())
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:2] == ["[True, True, True]", "[False, False, False]"]
