"""The collector configurations parse, use only documented components and fields, and hang together."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .otelcol_schema import ANY, KINDS, OTTL_CONTEXTS, OTTL_FUNCTIONS

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "collector-config").glob("*.yaml"))
ENV_REFERENCE = re.compile(r"\$\{([^}]*)\}")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def check_fields(value, schema, where: str) -> list[str]:
    if schema is ANY:
        return []
    if not isinstance(value, dict):
        return [f"{where}: expected a mapping"]
    problems = []
    for key, sub in value.items():
        if key not in schema:
            problems.append(f"{where}.{key}: not a documented field (known: {', '.join(sorted(schema))})")
        elif sub is not None:
            problems += check_fields(sub, schema[key], f"{where}.{key}")
    return problems


def test_there_are_an_agent_and_a_gateway():
    assert [p.name for p in CONFIGS] == ["agent.yaml", "gateway.yaml"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_components_and_fields_are_documented(path):
    config = load(path)
    assert set(config) <= {"extensions", "receivers", "processors", "exporters", "connectors", "service"}
    problems = []
    for kind, known in KINDS.items():
        for component_id, settings in (config.get(kind) or {}).items():
            component_type = component_id.split("/")[0]
            if component_type not in known:
                problems.append(f"{kind}.{component_id}: {component_type} is not a known otelcol-contrib component")
            else:
                problems += check_fields(settings or {}, known[component_type], f"{kind}.{component_id}")
    assert problems == []


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_references_resolve(path):
    config = load(path)
    service = config["service"]
    assert set(service) <= {"extensions", "pipelines", "telemetry"}
    for extension in service["extensions"]:
        assert extension in config["extensions"], extension
    assert set(config["extensions"]) == set(service["extensions"])  # defined and enabled alike
    for name, pipeline in service["pipelines"].items():
        assert name.split("/")[0] in {"traces", "metrics", "logs"}
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{name}: {component} is not defined under {kind}"
        assert pipeline["processors"][0] == "memory_limiter" and pipeline["processors"][-1] == "batch"
    for kind in ("receivers", "processors", "exporters"):  # nothing defined and left unused
        used = {c for p in service["pipelines"].values() for c in p.get(kind, [])}
        assert set(config.get(kind) or {}) == used, kind
    storages = [v for v in _walk(config["exporters"]) if isinstance(v, dict) and "storage" in v]
    assert storages and all(s["storage"] in config["extensions"] and s["storage"].startswith("file_storage") for s in storages)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_environment_references_use_the_env_provider(path):
    for reference in ENV_REFERENCE.findall(path.read_text()):
        assert re.fullmatch(r"env:[A-Z_][A-Z0-9_]*(:-[^}]*)?", reference), reference


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_regexes_compile_and_avoid_what_re2_lacks(path):
    config = load(path)
    for settings in config["processors"].values():
        for pattern in (settings or {}).get("blocked_values", []) + (settings or {}).get("blocked_key_patterns", []):
            re.compile(pattern)
            assert not re.search(r"\(\?[=!<]|\\[1-9]", pattern), f"RE2 has no lookaround or backreference: {pattern}"


def test_the_redaction_masks_pii_and_keeps_token_counts():
    config = load(CONFIGS[0])["processors"]["redaction/pii"]
    values = [re.compile(p) for p in config["blocked_values"]]
    keys = [re.compile(p) for p in config["blocked_key_patterns"]]
    for pii in ("jane@example.com", "4111111111111111", "078-05-1120", "sk-proj-abcdefghijklmnopqrstuvwx"):
        assert any(v.search(f"text {pii} text") for v in values), pii
    for secret_key in ("password", "http.request.header.authorization", "openai.api_key", "access_token"):
        assert any(k.fullmatch(secret_key) for k in keys), secret_key
    for kept in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.request.max_tokens"):
        assert not any(k.fullmatch(kept) for k in keys), kept


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_ottl_statements_call_documented_functions(path):
    for settings in load(path)["processors"].values():
        for group in (settings or {}).get("trace_statements", []):
            assert group["context"] in OTTL_CONTEXTS
            for statement in group["statements"]:
                function = re.match(r"\s*([A-Za-z_]+)\(", statement).group(1)
                assert function in OTTL_FUNCTIONS and statement.count("(") == statement.count(")"), statement


def test_the_gateway_routes_by_trace_to_serve_over_grpc():
    exporter = load(CONFIGS[1])["exporters"]["loadbalancing/aitracer"]
    assert exporter["routing_key"] == "traceID" and exporter["resolver"]["dns"]["port"] == 4317


def _walk(node):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
