"""Real OpenTelemetry SDK, real openai client, real HTTP on 127.0.0.1."""

from __future__ import annotations

import os

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors.openai import OpenAIInstrumentor
from otel_aitracer.demo.fake_openai import FakeOpenAIServer


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in list(os.environ):
        if name.startswith(("AITRACER_", "OTEL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AITRACER_SPOOL_DIR", str(tmp_path_factory.mktemp("spool")))  # never the user's cache
    monkeypatch.setenv("AITRACER_K8S_ENDPOINT", "off")  # the same destinations when CI runs in a pod


@pytest.fixture(scope="session")
def fake_openai() -> FakeOpenAIServer:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    return provider


@pytest.fixture
def instrument(tracer_provider: TracerProvider):
    """OpenAI instrumented with content capture on; undone after the test."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, capture_content=True)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def client(fake_openai: FakeOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)


@pytest.fixture
def async_client(fake_openai: FakeOpenAIServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the whole run (the machine's PostgreSQL binaries, started by the tests)."""
    from .postgres_server import PostgresServer, available

    if not available():
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) on this machine")
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def records_db(request, tmp_path):
    """A records database on each engine: a SQLite file, then a fresh PostgreSQL database."""
    from otel_aitracer._destinations._pg_store import PostgresStore
    from otel_aitracer._destinations._store import SQLiteStore

    if request.param == "sqlite":
        store = SQLiteStore(tmp_path / "r.db")
    else:
        store = PostgresStore(request.getfixturevalue("postgres").new_database(f"records_{abs(hash(tmp_path)) % 10**8}"))
    yield store
    store.close()
