"""Instrument, instrument again, uninstrument; and do nothing, loudly, when the SDK is missing or too old."""

from __future__ import annotations

import logging

import pytest
import wrapt

from instrumentors.anthropic import AnthropicInstrumentor
from instrumentors.google_genai import GoogleGenAIInstrumentor
from instrumentors.openai import OpenAIInstrumentor

from .helpers import run_python

PATCHED = {
    OpenAIInstrumentor: [
        ("openai.resources.chat.completions", "Completions", "create"),
        ("openai.resources.chat.completions", "AsyncCompletions", "parse"),
        ("openai.resources.responses.responses", "Responses", "create"),
        ("openai.resources.embeddings", "AsyncEmbeddings", "create"),
    ],
    AnthropicInstrumentor: [("anthropic.resources.messages.messages", "Messages", "stream"), ("anthropic.resources.messages.messages", "AsyncMessages", "create")],
    GoogleGenAIInstrumentor: [("google.genai.models", "Models", "generate_content_stream"), ("google.genai.models", "AsyncModels", "embed_content")],
}


def _methods(cls):
    import importlib

    return [vars(getattr(importlib.import_module(m), c))[name] for m, c, name in PATCHED[cls]]


@pytest.mark.parametrize("cls", list(PATCHED), ids=lambda c: c.__name__)
def test_uninstrument_restores_every_method_exactly(cls, tracer_provider):
    before = _methods(cls)
    instrumentor = cls()
    instrumentor.instrument(tracer_provider=tracer_provider)
    wrapped = _methods(cls)
    assert all(isinstance(m, wrapt.FunctionWrapper) for m in wrapped)
    instrumentor.instrument(tracer_provider=tracer_provider)  # a second call changes nothing
    assert _methods(cls) == wrapped
    instrumentor.uninstrument()
    assert _methods(cls) == before


def test_openai_instrumented_twice_makes_one_span(tracer_provider, span_exporter, client):
    first, second = OpenAIInstrumentor(), OpenAIInstrumentor()
    first.instrument(tracer_provider=tracer_provider)
    second.instrument(tracer_provider=tracer_provider)  # the same instrumentor class is a singleton
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    finally:
        first.uninstrument()
    assert len(span_exporter.get_finished_spans()) == 1


def test_an_unsupported_sdk_version_is_a_log_line_not_an_exception(monkeypatch, caplog, tracer_provider):
    import instrumentors.anthropic as module

    monkeypatch.setattr(module, "_instruments", ("anthropic >= 99",))
    instrumentor = AnthropicInstrumentor()
    with caplog.at_level(logging.ERROR):
        instrumentor.instrument(tracer_provider=tracer_provider)
    assert "AnthropicInstrumentor" in caplog.text and "nothing can be instrumented" in caplog.text
    assert not any(isinstance(m, wrapt.FunctionWrapper) for m in _methods(AnthropicInstrumentor))
    instrumentor.uninstrument()


@pytest.mark.parametrize(("sdk", "module", "name"), [("openai", "instrumentors.openai", "OpenAIInstrumentor"), ("anthropic", "instrumentors.anthropic", "AnthropicInstrumentor"), ("google.genai", "instrumentors.google_genai", "GoogleGenAIInstrumentor")])
def test_a_missing_sdk_is_a_log_line_not_an_exception(sdk, module, name):
    result = run_python(
        f"""
        import logging, sys
        logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
        sys.modules[{sdk!r}] = None  # as if it were not installed
        if "." in {sdk!r}:
            sys.modules[{sdk!r}.split(".")[0]] = None
        from {module} import {name}
        {name}().instrument(skip_dep_check=True)
        {name}().uninstrument()
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok" and "is not installed" in result.stderr and "does nothing" in result.stderr
