"""The record has one typed definition (``otel_aitracer._recording._record.Record``); every list of its fields elsewhere is a subset of it."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_aitracer import span_to_record
from otel_aitracer._destinations._records_table import COLUMNS
from otel_aitracer._pii._records import CONTENT_FIELDS
from otel_aitracer._recording._record import COUNT_FIELDS, STRING_FIELDS, Record, record_problem

FIELDS = set(Record.__annotations__)


def test_every_field_list_names_fields_of_the_record():
    for name, fields in {"store columns": COLUMNS, "content": CONTENT_FIELDS, "strings": STRING_FIELDS, "counts": COUNT_FIELDS}.items():
        assert set(fields) <= FIELDS, (name, set(fields) - FIELDS)


def test_the_mapper_makes_only_record_fields_and_valid_records():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    attributes = {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather", "gen_ai.agent.name": "helper",
        "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 2,
        "gen_ai.usage.cache_read.input_tokens": 1, "aitracer.step_index": 0, "aitracer.tags": ("a",),
        "gen_ai.tool.call.arguments": '{"city": "Paris"}', "gen_ai.tool.call.result": '{"temp": 14}',
    }  # fmt: skip
    provider.get_tracer("t").start_span("execute_tool weather", attributes=attributes).end()
    record = span_to_record(exporter.get_finished_spans()[0])
    assert record is not None and set(record) <= FIELDS, set(record) - FIELDS
    assert record_problem(record) is None


def test_the_validator_names_what_no_store_can_hold():
    assert record_problem({"input_tokens": 2**63}) == "input_tokens must be an integer from 0 to 2^63-1, got 9223372036854775808"
    assert record_problem({"latency_ms": -1}).startswith("latency_ms")
    assert record_problem({"cost": float("nan")}).startswith("cost")
    assert record_problem({"model": ["a"]}) == "model must be a string"
    assert record_problem([]) == "a record must be a JSON object"
