"""Inside Kubernetes, with no API key and no store, records go to the in-cluster serve; doctor says why."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_aitracer import AITracerSpanProcessor, _kubernetes
from otel_aitracer._config import resolve_settings
from otel_aitracer.cli._doctor import diagnose

from .fake_aitracer_api import FakeAITracerAPI


@pytest.fixture
def outside(monkeypatch, tmp_path):
    """No Kubernetes signal at all (whatever machine runs the tests)."""
    monkeypatch.delenv("AITRACER_K8S_ENDPOINT")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(_kubernetes, "TOKEN_PATH", str(tmp_path / "no-token"))
    cgroup = tmp_path / "cgroup"
    cgroup.write_text("0::/user.slice/user-1000.slice/session-2.scope\n")
    monkeypatch.setattr(_kubernetes, "CGROUP_PATH", str(cgroup))
    return tmp_path


def test_outside_kubernetes_records_go_to_the_local_store(outside):
    settings = resolve_settings()
    assert settings.cluster_endpoint is None and settings.destination.startswith("local store") and "not in Kubernetes" in settings.why


@pytest.mark.parametrize("signal", ["env", "token", "cgroup"])
def test_each_signal_routes_to_the_in_cluster_serve(outside, monkeypatch, signal):
    if signal == "env":
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    elif signal == "token":
        (outside / "no-token").write_text("eyJ...")
    else:
        (outside / "cgroup").write_text("12:pids:/kubepods/burstable/pod1234/abcd\n")
    settings = resolve_settings()
    assert settings.cluster_endpoint == _kubernetes.DEFAULT_K8S_ENDPOINT
    assert settings.destination == f"in-cluster otel-aitracer serve at {_kubernetes.DEFAULT_K8S_ENDPOINT}" and "in Kubernetes" in settings.why


def test_a_key_or_a_store_wins_and_off_keeps_the_store(outside, monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert resolve_settings(api_key="at-x").cluster_endpoint is None
    assert resolve_settings(store=str(outside / "r.db")).cluster_endpoint is None
    monkeypatch.setenv("AITRACER_K8S_ENDPOINT", "off")
    assert resolve_settings().cluster_endpoint is None


def test_records_reach_the_configured_endpoint_without_a_key_and_doctor_says_why(outside, monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    with FakeAITracerAPI() as serve:
        monkeypatch.setenv("AITRACER_K8S_ENDPOINT", serve.base_url)
        processor = AITracerSpanProcessor(project="in-pod")
        provider = TracerProvider()
        provider.add_span_processor(processor)
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}
        provider.get_tracer("k").start_span("chat", attributes=attributes).end()
        assert processor.force_flush(10_000)
        report = diagnose(processor.settings)
        processor.shutdown()
    [(method, path, auth, body)] = serve.requests
    assert (method, path, auth, body["logs"][0]["project"]) == ("POST", "/api/v1/logs/batch/", None, "in-pod")
    assert report["destination"] == f"in-cluster otel-aitracer serve at {serve.base_url}" and "KUBERNETES_SERVICE_HOST" in report["why"]
