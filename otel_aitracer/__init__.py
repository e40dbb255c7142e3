"""otel-aitracer: LLM observability on OpenTelemetry, in the AITracer record format.

Three ways in::

    otel_aitracer.register(project="my-app")                       # one call at startup
    provider.add_span_processor(AITracerSpanProcessor(project="x"))  # an existing OTel setup
    OTEL_TRACES_EXPORTER=aitracer                                   # the exporter entry point

and ``AITracer``, the AITracer SDK's surface, for code written against that SDK.
"""

from __future__ import annotations

from . import exceptions
from ._facade import AITracer
from ._pii import Finding, PIIRedactor
from ._processor import AITracerSpanExporter, AITracerSpanProcessor
from ._recording._mapping import span_to_record
from ._redacting_exporter import RedactingSpanExporter
from ._register import Pipeline, register, register_agents_tracing
from ._scope._context import project, run, session, set_metadata, step, trace
from ._scope._stamping import ScopeSpanProcessor

__all__ = [
    "AITracer",
    "AITracerSpanExporter",
    "AITracerSpanProcessor",
    "Finding",
    "PIIRedactor",
    "Pipeline",
    "RedactingSpanExporter",
    "ScopeSpanProcessor",
    "exceptions",
    "project",
    "register",
    "register_agents_tracing",
    "run",
    "session",
    "set_metadata",
    "span_to_record",
    "step",
    "trace",
]
