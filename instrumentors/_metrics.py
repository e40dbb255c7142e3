"""The two GenAI client metrics every instrumentor records, with the conventions' buckets."""

from __future__ import annotations

from typing import Any, Mapping

from opentelemetry import metrics
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.attributes import openai_attributes as OpenAIAttr
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes, server_attributes

_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
# Span attributes that also label the metric points.
METRIC_KEYS = (
    GenAI.GEN_AI_OPERATION_NAME,
    GenAI.GEN_AI_PROVIDER_NAME,
    GenAI.GEN_AI_REQUEST_MODEL,
    GenAI.GEN_AI_RESPONSE_MODEL,
    server_attributes.SERVER_ADDRESS,
    server_attributes.SERVER_PORT,
    OpenAIAttr.OPENAI_RESPONSE_SERVICE_TIER,
    OpenAIAttr.OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
)
_INPUT = {GenAI.GEN_AI_TOKEN_TYPE: GenAI.GenAiTokenTypeValues.INPUT.value}
_OUTPUT = {GenAI.GEN_AI_TOKEN_TYPE: GenAI.GenAiTokenTypeValues.OUTPUT.value}


class GenAIMetrics:
    """``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` on one meter, and for streams
    ``gen_ai.client.operation.time_to_first_chunk`` and ``…time_per_output_chunk``."""

    __slots__ = ("_duration", "_tokens", "_first_chunk", "_per_chunk")

    def __init__(self, meter_provider: metrics.MeterProvider | None, scope: str, version: str) -> None:
        meter = metrics.get_meter(scope, version, meter_provider)
        self._duration = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self._first_chunk = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._per_chunk = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
            unit="s",
            description="Time between the chunks of a streamed response, after the first",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )

    def record(self, seconds: float, attributes: Mapping[str, Any], error: BaseException | None, chunks: tuple[float, float] | None = None) -> None:
        """One finished operation: its duration, its token counts when the provider gave them, and for a stream
        ``chunks``: (seconds to the first chunk, mean seconds between the later ones, or a negative number
        when there was only one)."""
        if getattr(self._duration, "_real_instrument", True) is None:
            return  # the global meter provider is still the API's placeholder: nothing would be kept
        labels = {k: attributes[k] for k in METRIC_KEYS if k in attributes}
        if error is not None:
            labels[error_attributes.ERROR_TYPE] = type(error).__qualname__
        self._duration.record(seconds, labels)
        if chunks is not None:
            self._first_chunk.record(chunks[0], labels)
            if chunks[1] >= 0 and error is None:
                self._per_chunk.record(chunks[1], labels)
        if error is not None:
            return  # a failed call's tokens are not known
        for key, token_type in ((GenAI.GEN_AI_USAGE_INPUT_TOKENS, _INPUT), (GenAI.GEN_AI_USAGE_OUTPUT_TOKENS, _OUTPUT)):
            count = attributes.get(key)
            if isinstance(count, int):
                self._tokens.record(count, {**labels, **token_type})
