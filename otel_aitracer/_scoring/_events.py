"""The score as the conventions' evaluation result: a ``gen_ai.evaluation.result`` log event in the scored
span's context (name ``aitracer.anomaly``), for the app's own log pipeline where it has one."""

from __future__ import annotations

from typing import Any

from opentelemetry import _logs, trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from ._codes import explanation, label

EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "aitracer.anomaly"


class EvaluationEvents:
    """Emits on the global logger provider's logger (a no-op until the app sets one)."""

    def __init__(self) -> None:
        self._logger = _logs.get_logger("otel_aitracer.anomaly")

    def emit(self, record: dict[str, Any]) -> None:
        score, codes = record.get("anomaly_score"), record.get("anomaly_codes")
        if not isinstance(score, int) or not isinstance(codes, list):
            return
        span = SpanContext(int(record["trace_id"], 16), int(record["span_id"], 16), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        attributes: dict[str, Any] = {
            GenAI.GEN_AI_EVALUATION_NAME: EVALUATION_NAME,
            GenAI.GEN_AI_EVALUATION_SCORE_VALUE: float(score),
            GenAI.GEN_AI_EVALUATION_SCORE_LABEL: label(score),
            GenAI.GEN_AI_EVALUATION_EXPLANATION: explanation(codes),
            "aitracer.anomaly.codes": [str(code) for code in codes],
        }
        self._logger.emit(event_name=EVALUATION_EVENT, context=trace.set_span_in_context(NonRecordingSpan(span)), attributes=attributes)
