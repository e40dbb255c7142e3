"""OpenTelemetry instrumentation for Google's Gemini SDKs.

Usage::

    from instrumentors.google_genai import GoogleGenAIInstrumentor

    GoogleGenAIInstrumentor().instrument(tracer_provider=provider, meter_provider=meters, capture_content=True)

``google-genai``: ``client.models.generate_content``, ``generate_content_stream`` and
their ``client.aio`` twins become one CLIENT span ``generate_content {model}`` each
(an automatic-function-calling loop included), ``embed_content`` an ``embeddings``
span; the provider is ``gcp.vertex_ai`` for Vertex clients and ``gcp.gemini``
otherwise. The legacy ``google-generativeai`` ``GenerativeModel.generate_content``
(sync, async, ``stream=True``) is patched when the application imports it.
Plus the GenAI client metrics.
"""

from __future__ import annotations

import logging
from functools import partial
from importlib import metadata
from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from .._genai import LLMCall, as_dict, dimension_count
from .._stream import AsyncStreamProxy, SyncStreamProxy
from .._wrap import Patch, TableInstrumentor, async_wrapper, sync_wrapper
from ._generate import EMBEDDINGS, GENERATE, GenerateStreamRecorder, model_name, provider_and_server, request_attributes, response_attributes
from ._interactions import CreateInteraction, GetInteraction
from ._legacy import LEGACY_MODULE, LegacyGenerateContent

_logger = logging.getLogger(__name__)
_MIN_MAJOR = 1
__version__ = "0.1.0"
_INTERACTIONS = "google.genai._gaos.google_genai"
_MODELS = "google.genai.models"


class GenerateContent:
    def __init__(self, proxy: type | None = None) -> None:
        self._proxy = proxy  # set for the streaming methods

    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        attrs = request_attributes(instance, kwargs, capture, stream=self._proxy is not None)
        return GENERATE, attrs.get(GenAI.GEN_AI_REQUEST_MODEL), attrs

    def finish(self, call: LLMCall, result: Any, capture: bool) -> Any:
        if self._proxy is not None:
            return self._proxy(result, GenerateStreamRecorder(call, capture))
        call.set_attributes(response_attributes(result, capture))
        return None


class EmbedContent:
    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        attrs: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: EMBEDDINGS, **provider_and_server(instance)}
        model = model_name(kwargs.get("model"))
        if model:
            attrs[GenAI.GEN_AI_REQUEST_MODEL] = model
        dimensions = as_dict(kwargs.get("config")).get("output_dimensionality")
        if dimensions:
            attrs[GenAI.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
        return EMBEDDINGS, model, attrs

    def finish(self, call: LLMCall, result: Any, capture: bool) -> Any:
        """Input tokens from ``usage_metadata`` (the Gemini API) or each embedding's ``statistics`` (Vertex AI)."""
        embeddings = getattr(result, "embeddings", None) or []
        tokens = getattr(getattr(result, "usage_metadata", None), "prompt_token_count", None)
        if tokens is None:
            counts = [getattr(getattr(e, "statistics", None), "token_count", None) for e in embeddings]
            tokens = int(sum(c for c in counts if c is not None)) if counts and None not in counts else None
        call.set_attributes({GenAI.GEN_AI_USAGE_INPUT_TOKENS: tokens,
                             GenAI.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: dimension_count(getattr(embeddings[0], "values", None)) if embeddings else None})  # fmt: skip
        return None


def _supported_google_genai() -> bool:
    try:
        import google.genai.models  # noqa: F401

        version = metadata.version("google-genai")
    except (ImportError, metadata.PackageNotFoundError):
        _logger.info("google-genai is not installed; GoogleGenAIInstrumentor does nothing for it (google-generativeai is traced if the app uses it)")
        return False
    if int(version.split(".")[0]) < _MIN_MAJOR:
        _logger.warning("google-genai %s is older than %s.0; GoogleGenAIInstrumentor does nothing for it", version, _MIN_MAJOR)
        return False
    return True


class GoogleGenAIInstrumentor(TableInstrumentor):
    """Patches google-genai's Models / AsyncModels methods (and the legacy GenerativeModel) to emit GenAI spans and metrics."""

    _package = "google-genai"
    _sdk_modules = ("google.genai", "google.generativeai")
    _scope = __name__
    _version = __version__

    def _table(self) -> list[Patch]:
        legacy = LegacyGenerateContent()
        table = [  # patched when (or if) the app imports the legacy SDK: importing it prints a deprecation banner
            Patch(LEGACY_MODULE, "GenerativeModel", "generate_content", lambda tools: sync_wrapper(tools, legacy), ""),
            Patch(LEGACY_MODULE, "GenerativeModel", "generate_content_async", lambda tools: async_wrapper(tools, legacy), "", is_async=True),
        ]
        if not _supported_google_genai():
            return table
        for path, cls, wrapper, stream_proxy, is_async in (
            ("models", "Models", sync_wrapper, SyncStreamProxy, False),
            ("aio.models", "AsyncModels", async_wrapper, AsyncStreamProxy, True),
        ):
            for method, op in (("generate_content", GenerateContent()), ("generate_content_stream", GenerateContent(stream_proxy)), ("embed_content", EmbedContent())):
                table.append(Patch(_MODELS, cls, method, partial(wrapper, op=op), path, is_async=is_async))
        return table + _interactions_table()


def _interactions_table() -> list[Patch]:
    """The Interactions API (``client.interactions``), where the installed google-genai has it."""
    try:
        from google.genai._gaos.utils.eventstreaming import AsyncStream, Stream
    except ImportError:
        return []
    table = []
    for path, cls, wrapper, stream_type, proxy, is_async in (
        ("interactions", "GeminiNextGenInteractions", sync_wrapper, Stream, SyncStreamProxy, False),
        ("aio.interactions", "AsyncGeminiNextGenInteractions", async_wrapper, AsyncStream, AsyncStreamProxy, True),
    ):
        for method, op in (("create", CreateInteraction(stream_type, proxy)), ("get", GetInteraction(stream_type, proxy))):
            table.append(Patch(_INTERACTIONS, cls, method, partial(wrapper, op=op), path, is_async=is_async))
    return table
