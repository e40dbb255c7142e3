"""The public names SPEC §3 promises exist (grows as issues land)."""

import otel_aitracer
from otel_aitracer import exceptions


def test_exported_names_are_the_public_api():
    assert sorted(otel_aitracer.__all__) == sorted(
        ["AITracer", "AITracerSpanExporter", "AITracerSpanProcessor", "Finding", "PIIRedactor", "Pipeline", "RedactingSpanExporter", "ScopeSpanProcessor", "exceptions", "project", "register", "register_agents_tracing", "run", "session", "set_metadata", "span_to_record", "step", "trace"]
    )
    for name in otel_aitracer.__all__:
        assert hasattr(otel_aitracer, name)


def test_exception_tree():
    assert issubclass(exceptions.RateLimitError, exceptions.APIError)
    for cls in (exceptions.APIError, exceptions.ConfigurationError, exceptions.ValidationError):
        assert issubclass(cls, exceptions.AITracerError)
    assert exceptions.ValidationError("model", "is required").field == "model"
