"""A streamed call's span ends exactly once, however the stream ends, keeping what it saw."""

from __future__ import annotations

import asyncio
import gc
import json
import logging

import openai
import pytest
from opentelemetry.trace import StatusCode

from .helpers import USER

STREAM = {"model": "gpt-4o-mini", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}


@pytest.fixture
def end_warnings(caplog):
    """Warnings the SDK logs when a span is ended twice."""
    caplog.set_level(logging.WARNING, logger="opentelemetry.sdk.trace")
    yield lambda: [r for r in caplog.records if "end" in r.getMessage().lower()]


def one_span(span_exporter):
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def output_text(span):
    parts = json.loads(span.attributes["gen_ai.output.messages"])[0]["parts"]
    return "".join(p.get("content", "") for p in parts)


def test_exhausted_stream_records_output_and_final_usage(instrument, client, span_exporter, end_warnings):
    stream = client.chat.completions.create(**STREAM)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    span = one_span(span_exporter)
    assert isinstance(stream, openai.Stream)
    assert output_text(span) == text
    assert span.attributes["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert span.attributes["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    assert span.status.status_code is StatusCode.UNSET
    stream.close()
    assert len(span_exporter.get_finished_spans()) == 1 and not end_warnings()


def test_break_then_close_keeps_partial_output(instrument, client, span_exporter, end_warnings):
    stream = client.chat.completions.create(**STREAM)
    seen = []
    for chunk in stream:
        seen.append(chunk.choices[0].delta.content or "")
        if len(seen) == 3:
            break
    assert span_exporter.get_finished_spans() == ()
    stream.close()
    span = one_span(span_exporter)
    assert output_text(span) == "".join(seen)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert "gen_ai.usage.output_tokens" not in span.attributes
    assert not end_warnings()


def test_context_manager_ends_span(instrument, client, span_exporter, end_warnings):
    with client.chat.completions.create(**STREAM) as stream:
        next(iter(stream))
    assert one_span(span_exporter).attributes["gen_ai.response.finish_reasons"] == ("error",)
    with client.chat.completions.create(**STREAM) as stream:
        for _ in stream:
            pass
    assert len(span_exporter.get_finished_spans()) == 2 and not end_warnings()


def test_app_exception_inside_with_block_is_not_the_calls_error(instrument, client, span_exporter):
    with pytest.raises(KeyError):
        with client.chat.completions.create(**STREAM) as stream:
            next(iter(stream))
            raise KeyError("app bug")
    assert one_span(span_exporter).status.status_code is StatusCode.UNSET


def test_error_mid_stream_propagates_and_marks_span(instrument, client, span_exporter, end_warnings):
    stream = client.chat.completions.create(**{**STREAM, "model": "stream-error"})
    seen = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")
    span = one_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert output_text(span) == "".join(seen) != ""
    stream.close()
    assert not end_warnings()


def test_dropped_stream_is_ended_by_gc(instrument, client, span_exporter):
    stream = client.chat.completions.create(**STREAM)
    first = next(stream)
    del stream
    gc.collect()
    span = one_span(span_exporter)
    assert output_text(span) == (first.choices[0].delta.content or "")


def test_streamed_tool_call_is_reassembled(instrument, client, span_exporter):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    chunks = list(client.chat.completions.create(**STREAM, tools=[tool]))
    arguments = "".join(c.choices[0].delta.tool_calls[0].function.arguments or "" for c in chunks if c.choices and c.choices[0].delta.tool_calls)
    part = json.loads(one_span(span_exporter).attributes["gen_ai.output.messages"])[0]["parts"][0]
    assert part["type"] == "tool_call" and part["name"] == "lookup"
    assert part["arguments"] == json.loads(arguments)


# --- async twins ---------------------------------------------------------------------------


def test_async_exhausted_stream(instrument, async_client, span_exporter, end_warnings):
    async def consume():
        stream = await async_client.chat.completions.create(**STREAM)
        return [c async for c in stream]

    chunks = asyncio.run(consume())
    span = one_span(span_exporter)
    assert output_text(span) == "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert span.attributes["gen_ai.usage.output_tokens"] == chunks[-1].usage.completion_tokens
    assert not end_warnings()


def test_async_break_then_close(instrument, async_client, span_exporter, end_warnings):
    async def consume():
        stream = await async_client.chat.completions.create(**STREAM)
        async for _ in stream:
            break
        await stream.close()

    asyncio.run(consume())
    assert one_span(span_exporter).attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert not end_warnings()


def test_async_context_manager(instrument, async_client, span_exporter):
    async def consume():
        async with await async_client.chat.completions.create(**STREAM) as stream:
            async for _ in stream:
                pass

    asyncio.run(consume())
    assert one_span(span_exporter).attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_async_error_mid_stream(instrument, async_client, span_exporter):
    async def consume():
        stream = await async_client.chat.completions.create(**{**STREAM, "model": "stream-error"})
        async for _ in stream:
            pass

    with pytest.raises(openai.APIError):
        asyncio.run(consume())
    assert one_span(span_exporter).status.status_code is StatusCode.ERROR


def test_async_dropped_stream_is_ended_by_gc(instrument, async_client, span_exporter):
    async def consume():
        stream = await async_client.chat.completions.create(**STREAM)
        await stream.__anext__()

    asyncio.run(consume())
    gc.collect()
    assert len(span_exporter.get_finished_spans()) == 1
