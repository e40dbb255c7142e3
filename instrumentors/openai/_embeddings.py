"""Embeddings: ``embeddings.create`` as a GenAI ``embeddings`` span (the conventions define no content attribute)."""

from __future__ import annotations

from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from .._genai import LLMCall, dimension_count, given, parsed_result, server_attributes_of, server_of, usage_attributes
from ._chat import PROVIDER

OPERATION = GenAI.GenAiOperationNameValues.EMBEDDINGS.value


class Embeddings:
    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        attrs: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: OPERATION, GenAI.GEN_AI_PROVIDER_NAME: PROVIDER}
        model = kwargs.get("model")
        if given(model):
            attrs[GenAI.GEN_AI_REQUEST_MODEL] = str(model)
        attrs.update(server_attributes_of(server_of(getattr(instance, "_client", None))))
        if given(kwargs.get("dimensions")):
            attrs[GenAI.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = kwargs["dimensions"]
        if given(kwargs.get("encoding_format")):
            attrs[GenAI.GEN_AI_REQUEST_ENCODING_FORMATS] = [kwargs["encoding_format"]]
        return OPERATION, attrs.get(GenAI.GEN_AI_REQUEST_MODEL), attrs

    def finish(self, call: LLMCall, result: Any, capture: bool) -> Any:
        result = parsed_result(result, "data")
        usage = getattr(result, "usage", None)
        data = getattr(result, "data", None) or ()
        attrs = {GenAI.GEN_AI_RESPONSE_MODEL: getattr(result, "model", None),  # the vectors' length, whether or not the request asked for one
                 GenAI.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: dimension_count(getattr(data[0], "embedding", None)) if data else None}  # fmt: skip
        if usage is not None:
            attrs.update(usage_attributes(usage.prompt_tokens, None))
        call.set_attributes(attrs)
        return None
