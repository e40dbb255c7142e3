"""Issue 12: every entry point obeys the same configuration and scope, and keeps its promises.

Each test names the defect it pins down; each failed on the code before the fix.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode

from otel_aitracer import AITracer, PIIRedactor, RedactingSpanExporter
from otel_aitracer._destinations._store import SQLiteStore

from .helpers import ROOT, clean_env, run_python

EMAIL = "jane.doe@example.com"
OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"


def _records(path: Path) -> list[dict]:
    return SQLiteStore(path).query(newest_first=False)


# 1. AITRACER_CAPTURE_CONTENT=false must be obeyed by every entry point.
def test_capture_content_false_in_the_environment_keeps_prompts_out_of_register_and_aitracer(tmp_path, fake_openai):
    result = run_python(
        f"""
        import openai, otel_aitracer
        from otel_aitracer import AITracer
        pipeline = otel_aitracer.register(store={str(tmp_path / "register.db")!r}, sync=True)
        client = openai.OpenAI(api_key="k", base_url={fake_openai.base_url!r}, max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "secret plans"}}])
        pipeline.flush()
        tracer = AITracer(store={str(tmp_path / "facade.db")!r}, sync=True)
        wrapped = tracer.wrap_openai(openai.OpenAI(api_key="k", base_url={fake_openai.base_url!r}, max_retries=0))
        pipeline.shutdown()
        wrapped.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "secret plans"}}])
        tracer.flush()
        """,
        env={"AITRACER_CAPTURE_CONTENT": "false"},
    )
    assert result.returncode == 0, result.stderr
    for db in ("register.db", "facade.db"):
        [record] = _records(tmp_path / db)
        assert record["input"] == {"redacted": True} and record["output"] == {"redacted": True}, db


def test_an_explicit_argument_beats_the_environment(tmp_path, fake_openai, monkeypatch):
    import openai

    monkeypatch.setenv("AITRACER_CAPTURE_CONTENT", "false")
    tracer = AITracer(store=str(tmp_path / "r.db"), sync=True, capture_content=True)
    client = tracer.wrap_openai(openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0))
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "keep me"}])
    tracer.shutdown()
    [record] = _records(tmp_path / "r.db")
    assert record["input"]["messages"][0]["content"] == "keep me"


def test_a_bad_environment_value_warns_once_naming_the_variable(monkeypatch, caplog, tmp_path):
    from otel_aitracer._config import resolve_settings

    monkeypatch.setenv("AITRACER_CAPTURE_CONTENT", "maybe")
    with caplog.at_level("WARNING"):
        for _ in range(3):
            assert resolve_settings(store=tmp_path / "r.db").capture_content is True
    assert [r.getMessage() for r in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "AITRACER_CAPTURE_CONTENT" in caplog.records[0].getMessage()


# 2. Zero-code: session(), project() and trace() reach records through the exporter entry point.
SCOPED_APP = """
import os, openai, otel_aitracer
client = openai.OpenAI(api_key="k", base_url=os.environ["FAKE_OPENAI"], max_retries=0)
with otel_aitracer.project("checkout"), otel_aitracer.session("s-42", user_id="u-7"):
    with otel_aitracer.trace(name="turn") as t:
        t.set_metadata({"plan": "pro"})
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
"""


def _launcher() -> str:
    command = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert command, "opentelemetry-instrument is installed with the package"
    return command


def test_zero_code_calls_keep_their_session_user_project_and_metadata(tmp_path, fake_openai):
    (tmp_path / "app.py").write_text(SCOPED_APP)
    env = clean_env(FAKE_OPENAI=fake_openai.base_url, AITRACER_STORE=str(tmp_path / "r.db"))
    result = subprocess.run([_launcher(), "--traces_exporter", "aitracer", sys.executable, "app.py"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    [record] = _records(tmp_path / "r.db")
    assert (record["project"], record["session_id"], record["app_user_id"]) == ("checkout", "s-42", "u-7")
    assert record["metadata"]["plan"] == "pro"


def test_the_exporter_behind_any_processor_gets_the_scope(tmp_path):
    """The exporter entry point installs the same stamping as the processor does."""
    result = run_python(
        f"""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        import otel_aitracer
        from otel_aitracer import AITracerSpanExporter
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider.add_span_processor(SimpleSpanProcessor(AITracerSpanExporter(store={str(tmp_path / "r.db")!r})))
        with otel_aitracer.project("p1"), otel_aitracer.session("s1", user_id="u1"):
            trace.get_tracer("t").start_span("chat m", attributes={{"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}}).end()
        provider.shutdown()
        """
    )
    assert result.returncode == 0, result.stderr
    [record] = _records(tmp_path / "r.db")
    assert (record["project"], record["session_id"], record["app_user_id"]) == ("p1", "s1", "u1")


# 3. One patch table: AITracer.wrap_gemini covers every method the instrumentor patches.
def test_wrap_gemini_records_async_embeddings(tmp_path):
    from google import genai

    from otel_aitracer.demo.fake_gemini import FakeGeminiServer

    tracer = AITracer(store=str(tmp_path / "r.db"), sync=True)
    with FakeGeminiServer() as server:
        client = tracer.wrap_gemini(genai.Client(api_key="k", http_options={"base_url": server.base_url}))
        asyncio.run(client.aio.models.embed_content(model="text-embedding-004", contents="hello"))
        client.models.embed_content(model="text-embedding-004", contents="hello")
    tracer.shutdown()
    assert [r["operation"] for r in _records(tmp_path / "r.db")] == ["embeddings", "embeddings"]


def test_every_instrumentor_patches_classes_and_clients_from_one_table():
    """instrument() and instrument_client() apply the same table; nothing in otel_aitracer reaches inside an instrumentor."""
    from instrumentors.anthropic import AnthropicInstrumentor
    from instrumentors.google_genai import GoogleGenAIInstrumentor
    from instrumentors.openai import OpenAIInstrumentor

    for instrumentor in (OpenAIInstrumentor(), AnthropicInstrumentor(), GoogleGenAIInstrumentor()):
        assert callable(instrumentor.instrument_client) and callable(instrumentor.uninstrument_client)
    private = re.compile(r"^\s*(from|import)\s+instrumentors\.[\w.]*\._", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "otel_aitracer").rglob("*.py") if private.search(p.read_text())]
    assert offenders == []


def test_instrument_client_and_uninstrument_client_touch_only_that_instance(fake_openai, tracer_provider, span_exporter):
    import openai

    from instrumentors.openai import OpenAIInstrumentor

    traced = openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
    plain = openai.OpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0)
    instrumentor = OpenAIInstrumentor()
    assert instrumentor.instrument_client(traced, tracer_provider=tracer_provider) is traced
    for client in (traced, plain):
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    assert len(span_exporter.get_finished_spans()) == 1
    instrumentor.uninstrument_client(traced)
    traced.embeddings.create(model="text-embedding-3-small", input="hi")
    assert len(span_exporter.get_finished_spans()) == 1


# 4. Our own HTTP requests are never traced as the application's spans.
def test_the_http_sink_is_not_traced_when_the_app_instruments_httpx(tmp_path):
    from .fake_aitracer_api import FakeAITracerAPI

    with FakeAITracerAPI() as api:
        result = run_python(
            f"""
            from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
            from otel_aitracer import AITracerSpanProcessor
            app_spans = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(app_spans))
            HTTPXClientInstrumentor().instrument(tracer_provider=provider)
            processor = AITracerSpanProcessor(api_key="at-k", base_url={api.base_url!r})
            provider.add_span_processor(processor)
            provider.get_tracer("t").start_span("chat m", attributes={{"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}}).end()
            assert processor.force_flush(10_000)
            print([s.name for s in app_spans.get_finished_spans()])
            """
        )
        assert result.returncode == 0, result.stderr
        assert len(api.delivered()) == 1
    assert result.stdout.strip() == "['chat m']"


# 10. Files only their owner can read; a planted spool directory or symlink is refused.
def test_store_and_spool_files_are_private(tmp_path, monkeypatch):
    from otel_aitracer import AITracerSpanProcessor

    monkeypatch.setenv("AITRACER_SPOOL_DIR", str(tmp_path / "spool"))
    store = tmp_path / "data" / "records.db"
    processor = AITracerSpanProcessor(store=store, sync=True)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("t").start_span("chat m", attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}).end()
    api = AITracerSpanProcessor(api_key="k", base_url="http://127.0.0.1:9")
    assert api.stats()["pending"] == 0
    modes = {p.name: p.stat().st_mode & 0o777 for p in [store, store.parent, *(tmp_path / "spool").iterdir(), tmp_path / "spool"]}
    api.shutdown()
    processor.shutdown()
    assert modes.pop("data") == 0o700 and modes.pop("spool") == 0o700
    assert set(modes.values()) == {0o600}, modes


def test_a_symlinked_spool_file_is_refused_and_its_target_untouched(tmp_path, monkeypatch, caplog):
    from otel_aitracer._destinations._spool import open_spool

    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(mode=0o700)
    monkeypatch.setenv("AITRACER_SPOOL_DIR", str(spool_dir))
    victim = tmp_path / "victim.db"
    victim.touch()  # an empty file SQLite would happily turn into a database
    probe = open_spool("http://127.0.0.1:9", "k")
    name = Path(probe.path).name
    probe.close()
    os.remove(spool_dir / name)
    os.symlink(victim, spool_dir / name)
    with caplog.at_level("WARNING"):
        spool = open_spool("http://127.0.0.1:9", "k")
    assert spool.path == ":memory:" and "is a symlink" in caplog.text
    assert victim.stat().st_size == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_a_spool_directory_owned_by_someone_else_is_refused(tmp_path, monkeypatch, caplog):
    from otel_aitracer._destinations._spool import open_spool

    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(mode=0o777)
    os.chown(spool_dir, 4242, 4242)
    monkeypatch.setenv("AITRACER_SPOOL_DIR", str(spool_dir))
    with caplog.at_level("WARNING"):
        spool = open_spool("http://127.0.0.1:9", "k")
    assert spool.path == ":memory:" and "owned by" in caplog.text
    assert list(spool_dir.iterdir()) == []


# 11. RedactingSpanExporter redacts every surface, the resource included.
def test_redacting_exporter_redacts_resource_events_links_name_and_status():
    inner = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop", "deploy.contact": EMAIL, "api.key": OPENAI_KEY}))
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(inner, PIIRedactor())))
    tracer = provider.get_tracer("t")
    linked = tracer.start_span("other")
    span = tracer.start_span(f"ask {EMAIL}", links=[Link(linked.get_span_context(), {"who": EMAIL})], attributes={"note": EMAIL})
    span.add_event("said", {"text": f"mail {EMAIL}"})
    span.set_status(Status(StatusCode.ERROR, f"failed for {EMAIL}"))
    span.end()
    linked.end()
    exported = [s for s in inner.get_finished_spans() if s.name != "other"][0]
    surfaces = json.dumps(
        [exported.name, dict(exported.attributes), dict(exported.resource.attributes), [dict(e.attributes) for e in exported.events],
         [dict(link.attributes) for link in exported.links], exported.status.description]
    )  # fmt: skip
    assert EMAIL not in surfaces and OPENAI_KEY not in surfaces
    assert exported.resource.attributes["service.name"] == "shop"


# 12. A password in AITRACER_BASE_URL is never printed.
def test_a_password_in_the_base_url_stays_out_of_doctor_and_warnings(tmp_path):
    env = clean_env(AITRACER_BASE_URL="http://ops:hunter2-pass@127.0.0.1:9", AITRACER_API_KEY="at-k")
    doctor = subprocess.run([sys.executable, "-m", "otel_aitracer", "doctor"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert doctor.returncode == 0, doctor.stderr
    assert "127.0.0.1:9" in doctor.stdout and "hunter2-pass" not in doctor.stdout + doctor.stderr
    code = """
        import logging
        logging.basicConfig(level=logging.DEBUG)
        from opentelemetry.sdk.trace import TracerProvider
        from otel_aitracer import AITracerSpanProcessor
        processor = AITracerSpanProcessor()
        provider = TracerProvider()
        provider.add_span_processor(processor)
        provider.get_tracer("t").start_span("chat m", attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}).end()
        processor.force_flush(1500)
        print(processor.settings.destination)
    """
    app = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert app.returncode == 0, app.stderr
    assert "cannot reach" in app.stderr and "hunter2-pass" not in app.stdout + app.stderr


# 13. register() first, then register_agents_tracing(replace_default=True): the default upload goes.
def test_replace_default_after_register_removes_the_agents_sdk_upload(tmp_path):
    result = run_python(
        f"""
        import otel_aitracer
        otel_aitracer.register(store={str(tmp_path / "r.db")!r})
        import agents   # the post-import hook bridges with replace_default=False
        from agents.tracing import get_trace_provider
        from agents.tracing.processors import BatchTraceProcessor
        otel_aitracer.register_agents_tracing(replace_default=True)
        processors = get_trace_provider()._multi_processor._processors
        print(sorted(type(p).__name__ for p in processors))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['AITracerTracingProcessor']"


# 14. The README's recipe for sending to serve works exactly as written.
def _readme_serve_recipe() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(pip install 'otel-aitracer\[server\]'\n.*?)```", readme, re.S)
    assert block, "the README shows how to point an app at serve"
    return block.group(1).replace("\\\n", "").splitlines()


def test_the_readme_recipe_for_serve_delivers_spans(tmp_path, fake_openai):
    from .server_process import ServerProcess

    lines = _readme_serve_recipe()
    assert lines[0] == "pip install 'otel-aitracer[server]'"
    serve_line = next(line for line in lines if " serve " in line)
    app_line = next(line for line in lines if "opentelemetry-instrument" in line)
    keys = re.match(r'AITRACER_SERVER_KEYS="([^"]+)"', serve_line).group(1)
    (tmp_path / "app.py").write_text(
        "import os, openai\n"
        "openai.OpenAI(api_key='k', base_url=os.environ['FAKE_OPENAI'], max_retries=0).chat.completions.create(\n"
        "    model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'to serve'}])\n"
    )
    server = ServerProcess(tmp_path / "server.db", keys=keys)
    try:
        port = re.search(r"localhost:(\d+)", app_line).group(1)
        command = app_line.replace(f"localhost:{port}", f"127.0.0.1:{server.port}")
        env = clean_env(FAKE_OPENAI=fake_openai.base_url, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        result = subprocess.run(["bash", "-c", command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        logs = __import__("httpx").get(f"{server.url}/api/v1/logs", headers={"Authorization": f"Bearer {keys.split('=')[0]}"}).json()
    finally:
        server.stop()
    assert [r["model"].startswith("gpt-4o-mini") for r in logs["logs"]] == [True]


def test_the_readme_zero_code_recipe_records_as_pasted_into_a_fresh_shell(tmp_path, fake_openai):
    """From a checkout with its ``.venv``, in a shell where nothing is activated."""
    block = re.search(r"\*\*Zero code\*\*.*?```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "the README shows the zero-code recipe"
    command = block.group(1)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (tmp_path / "app.py").write_text(
        "import os, openai\n"
        "openai.OpenAI(api_key='k', base_url=os.environ['FAKE_OPENAI'], max_retries=0).chat.completions.create(\n"
        "    model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'zero code as pasted'}])\n"
    )
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)  # nothing activated
    env = {**clean_env(FAKE_OPENAI=fake_openai.base_url, PATH=path)}
    env.pop("PYTHONPATH")  # the installed package, as a user has it
    result = subprocess.run(["bash", "-c", command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    [record] = _records(tmp_path / "aitracer.db")
    assert record["input"]["messages"][0]["content"] == "zero code as pasted"


def test_only_the_resolver_reads_the_environment():
    """Configuration is read in ``_config`` alone (SPEC §7); the exceptions say why they are not configuration."""
    allowed = {
        "otel_aitracer/_config.py": "the resolver",
        "otel_aitracer/_kubernetes.py": "a platform signal (KUBERNETES_SERVICE_HOST), read by the resolver's route()",
        "otel_aitracer/_distro.py": "sets the OTel SDK's own OTEL_* defaults for the launcher",
    }
    read = re.compile(r"os\.environ\.get\(|os\.getenv\(|os\.environ\[[^\]]+\](?!\s*=)")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "otel_aitracer").rglob("*.py"))
        if str(path.relative_to(ROOT)) not in allowed and "demo" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if read.search(line) and "os.environ[name]" not in line  # doctor lists the AITRACER_* it sees
        and not re.match(r"\s*os\.environ\[.*\]\s*[,=]", line)  # serve hands its options to its workers
    ]
    assert offenders == []
