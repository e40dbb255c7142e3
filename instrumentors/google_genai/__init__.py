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
from importlib import metadata
from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from .._genai import LLMCall, as_dict
from .._stream import AsyncStreamProxy, SyncStreamProxy
from .._wrap import Instruments, Patches, async_wrapper, sync_wrapper
from ._legacy import patch_when_imported
from ._generate import EMBEDDINGS, GENERATE, GenerateStreamRecorder, model_name, provider_and_server, request_attributes, response_attributes

_logger = logging.getLogger(__name__)
_MIN_MAJOR = 1
__version__ = "0.1.0"
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
        return None  # the Gemini API reports no token usage for embeddings


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


class GoogleGenAIInstrumentor(BaseInstrumentor):
    """Patches google-genai's Models / AsyncModels methods to emit GenAI spans and metrics."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()  # either SDK will do; each is checked in _instrument

    def _instrument(self, **kwargs: Any) -> None:
        self._patches = Patches("google-genai")
        tools = Instruments.from_options(kwargs, __name__, __version__)
        patch_when_imported(self._patches, lambda op: sync_wrapper(tools, op), lambda op: async_wrapper(tools, op))
        if not _supported_google_genai():
            return
        wrap = self._patches.wrap
        wrap(_MODELS, "Models", "generate_content", sync_wrapper(tools, GenerateContent()))
        wrap(_MODELS, "Models", "generate_content_stream", sync_wrapper(tools, GenerateContent(SyncStreamProxy)))
        wrap(_MODELS, "AsyncModels", "generate_content", async_wrapper(tools, GenerateContent()))
        wrap(_MODELS, "AsyncModels", "generate_content_stream", async_wrapper(tools, GenerateContent(AsyncStreamProxy)))
        wrap(_MODELS, "Models", "embed_content", sync_wrapper(tools, EmbedContent()))
        wrap(_MODELS, "AsyncModels", "embed_content", async_wrapper(tools, EmbedContent()))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patches.unwrap_all()
