"""``opentelemetry-instrument`` runs an unchanged app and every provider's call becomes a record."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer.demo.fake_anthropic import FakeAnthropicServer
from otel_aitracer.demo.fake_gemini import FakeGeminiServer

from .helpers import ROOT

APP = """
import os, anthropic, openai
from google import genai

openai.OpenAI(api_key="k", base_url=os.environ["FAKE_OPENAI"], max_retries=0).chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "zero code, mail me at jane@example.com"}])
anthropic.Anthropic(api_key="k", base_url=os.environ["FAKE_ANTHROPIC"], max_retries=0).messages.create(
    model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "zero code"}])
gemini = genai.Client(api_key="k", http_options={"base_url": os.environ["FAKE_GEMINI"]})
gemini.models.generate_content(model="gemini-2.5-flash", contents="zero code")
"""


@pytest.fixture(scope="module")
def fakes(fake_openai):
    with FakeAnthropicServer() as a, FakeGeminiServer() as g:
        yield {"FAKE_OPENAI": fake_openai.base_url, "FAKE_ANTHROPIC": a.base_url, "FAKE_GEMINI": g.base_url}


def run_instrumented(tmp_path: Path, fakes: dict[str, str], *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(APP))
    command = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert command, "opentelemetry-instrument is installed with the package"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AITRACER_", "OTEL_"))}
    env.update(fakes, AITRACER_STORE=str(tmp_path / "records.db"), PYTHONPATH=str(ROOT), **(extra_env or {}))
    return subprocess.run([command, *args, sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_opentelemetry_instrument_records_all_three_providers(tmp_path, fakes):
    result = run_instrumented(tmp_path, fakes, "--traces_exporter", "aitracer", extra_env={"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"})
    assert result.returncode == 0, result.stderr
    records = SQLiteStore(tmp_path / "records.db").query(newest_first=False)
    assert sorted((r["provider"], r["operation"]) for r in records) == [("anthropic", "chat"), ("gemini", "generate_content"), ("openai", "chat")]
    openai_record = next(r for r in records if r["provider"] == "openai")
    assert openai_record["input"]["messages"][0]["content"] == "zero code, mail me at [EMAIL]"  # redacted on the way
    assert all(r["input_tokens"] > 0 and r["output_tokens"] > 0 for r in records)


def test_without_content_capture_records_keep_no_content(tmp_path, fakes):
    result = run_instrumented(tmp_path, fakes)  # the distro makes aitracer the default exporter
    assert result.returncode == 0, result.stderr
    records = SQLiteStore(tmp_path / "records.db").query()
    assert len(records) == 3 and all(r["input"] is None for r in records)


@pytest.mark.parametrize(("chosen", "expected"), [(None, "otlp"), ("aitracer", "aitracer")])
def test_an_installed_opentelemetry_distro_keeps_its_defaults_unless_ours_is_chosen(tmp_path, chosen, expected):
    """Installing otel-aitracer must not reroute an app that already exports with opentelemetry-distro."""
    from .helpers import run_python

    fake = tmp_path / "opentelemetry" / "distro"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "import os\n\n\nclass OpenTelemetryDistro:\n    def _configure(self, **kwargs):\n        os.environ.setdefault('OTEL_TRACES_EXPORTER', 'otlp')\n"
    )
    env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    if chosen:
        env["OTEL_PYTHON_DISTRO"] = chosen
    result = run_python(
        """
        import os
        from otel_aitracer._distro import AITracerDistro
        AITracerDistro().configure()
        print(os.environ["OTEL_TRACES_EXPORTER"])
        """,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
