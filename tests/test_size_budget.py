"""One huge prompt or tool output is cut to the record budget, with markers; the batch goes on."""

from __future__ import annotations

import json

import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_aitracer import AITracerSpanProcessor
from otel_aitracer._destinations._store import SQLiteStore
from otel_aitracer._recording._size_budget import fit_record

GENAI = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}


def record(**content):
    return {"project": "p", "model": "m", "span_id": "a" * 16, **content}


def test_a_record_within_budget_is_untouched():
    r = record(input={"messages": [{"role": "user", "content": "hi"}]})
    assert fit_record(r, 10_000) is False and "truncated" not in r


def test_the_longest_strings_are_cut_with_their_original_size():
    huge, small = "x" * 200_000, "keep me"
    r = record(input={"messages": [{"role": "user", "content": small}, {"role": "tool", "content": huge}]}, output={"content": "short answer"})
    assert fit_record(r, 20_000)
    assert len(orjson.dumps(r)) <= 20_000
    kept, cut = r["input"]["messages"]
    assert kept["content"] == small and cut["content"].startswith("xxxx") and cut["content"].endswith("…[truncated: 200000 bytes]")
    assert r["output"] == {"content": "short answer"} and r["truncated"] == {"input": len(orjson.dumps({"messages": [{"role": "user", "content": small}, {"role": "tool", "content": huge}]}))}


def test_content_that_cannot_fit_is_replaced_by_its_size():
    r = record(input={"messages": [{"role": "user", "content": str(i)} for i in range(5000)]})
    assert fit_record(r, 2_000) and r["input"]["truncated"] is True and r["input"]["original_bytes"] > 50_000
    assert len(orjson.dumps(r)) <= 2_000


@pytest.mark.parametrize("budget", [3_000, 50_000])
def test_multibyte_text_stays_valid_json_under_budget(budget):
    r = record(input={"text": "日本語のテキスト" * 10_000}, output={"text": "emoji 🎉" * 5_000})
    fit_record(r, budget)
    assert len(orjson.dumps(r)) <= budget and json.loads(orjson.dumps(r))


def test_the_pipeline_cuts_and_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("AITRACER_MAX_RECORD_BYTES", "8000")
    processor = AITracerSpanProcessor(store=str(tmp_path / "r.db"), sync=True)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "mail jane@example.com " + "y" * 100_000}]}])
    for _ in range(2):
        provider.get_tracer("t").start_span("chat", attributes={**GENAI, "gen_ai.input.messages": messages}).end()
    first, second = SQLiteStore(tmp_path / "r.db").query()
    assert first["truncated"]["input"] > 100_000 and "[EMAIL]" in first["input"]["messages"][0]["content"]
    assert processor.stats()["truncated"] == 2 and processor.stats()["written"] == 2
    processor.shutdown()
