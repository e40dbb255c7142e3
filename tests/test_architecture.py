"""The house rules, checked on the real import graph (grimp, the engine of import-linter).

- ``instrumentors/`` never imports ``otel_aitracer``: they are useful with any OTel backend.
- The core never imports ``server``, ``cli``, ``demo`` or ``ui`` (only the ``python -m`` entry does).
- No import cycles, function-level imports included.
- The core's four rooms: the record path (``_recording``) may use where records go
  (``_destinations``), the app's scope (``_scope``) and the anomaly scores (``_scoring``); those
  use neither each other nor the record path; no room reaches up into the entry points
  (register, processor, facade…).
- Importing ``otel_aitracer`` imports no provider SDK or agent framework.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from .helpers import ROOT, run_python

_TOP = ("otel_aitracer.server", "otel_aitracer.cli", "otel_aitracer.demo", "otel_aitracer.ui")


def _graph() -> tuple[list[str], dict[str, set[str]]]:
    graph = grimp.build_graph("otel_aitracer", "instrumentors", include_external_packages=False)
    modules = sorted(graph.modules)
    return modules, {m: set(graph.find_modules_directly_imported_by(m)) for m in modules}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in edges[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in edges:
        if module not in index:
            visit(module)
    return found


def test_instrumentors_never_import_the_core():
    modules, edges = _graph()
    assert [(m, t) for m in modules if m.startswith("instrumentors") for t in edges[m] if t.startswith("otel_aitracer")] == []


def test_the_core_never_imports_server_cli_or_demo():
    modules, edges = _graph()
    core = [m for m in modules if m.startswith("otel_aitracer") and not m.startswith(_TOP) and m != "otel_aitracer.__main__"]
    assert [(m, t) for m in core for t in edges[m] if t.startswith(_TOP)] == []


_ROOMS = {
    "otel_aitracer._recording": ("otel_aitracer._destinations", "otel_aitracer._scope", "otel_aitracer._scoring"),
    "otel_aitracer._destinations": (),
    "otel_aitracer._scope": (),
    "otel_aitracer._scoring": (),
}
_ENTRY_POINTS = ("_register", "_processor", "_facade", "_distro", "_redacting_exporter", "_log_entry", "_instrumentors", "agents", "server", "cli", "demo", "ui")


def test_each_room_uses_only_the_rooms_below_it_and_never_an_entry_point():
    modules, edges = _graph()
    wrong = []
    for module in modules:
        room = next((r for r in _ROOMS if module.startswith(r + ".") or module == r), None)
        if room is None:
            continue
        for target in edges[module]:
            other_room = next((r for r in _ROOMS if target.startswith(r + ".") or target == r), None)
            if other_room not in (None, room) and other_room not in _ROOMS[room]:
                wrong.append((module, target))
            if target.startswith("otel_aitracer.") and target.split(".")[1] in _ENTRY_POINTS:
                wrong.append((module, target))
    assert wrong == []


def test_there_are_no_import_cycles():
    assert _cycles(_graph()[1]) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_importing_the_package_imports_no_provider_sdk_or_framework():
    """Nothing of ours imports an SDK, a framework or the server's packages: ``register()`` instruments each
    SDK when the app imports it (``tests/test_register.py``)."""
    result = run_python(
        """
        import sys
        import otel_aitracer
        otel_aitracer.AITracer(store=":memory:").log(model="m", provider="openai")
        otel_aitracer.register(store=":memory:")
        heavy = ("openai", "anthropic", "google.genai", "google.generativeai", "agents", "mcp", "starlette", "psycopg")
        print(sorted(m for m in heavy if m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "otel_aitracer", "instrumentors", "tests", "bench"], ["mypy"]],  # mypy's packages and settings: pyproject.toml
    ids=["ruff", "mypy"],
)
def test_the_linter_and_the_type_checker_find_nothing(command):
    tool = shutil.which(command[0], path=str(Path(sys.executable).parent))
    assert tool, f"{command[0]} is a dev dependency"
    result = subprocess.run([tool, *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
