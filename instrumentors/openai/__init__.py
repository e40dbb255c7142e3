"""OpenTelemetry instrumentation for the ``openai`` SDK.

Usage::

    from instrumentors.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=provider, meter_provider=meters, capture_content=True)

Each call of ``chat.completions.create`` / ``parse``, ``responses.create`` / ``stream`` and
``embeddings.create`` (sync, async, streaming or not, ``with_raw_response`` too) becomes
one CLIENT span following the OpenTelemetry GenAI semantic conventions, plus the
``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` metrics.
Message content is recorded only when asked for, by ``capture_content=True`` or
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``SPAN_ONLY`` / ``SPAN_AND_EVENT``).
"""

from __future__ import annotations

import logging
from typing import Any, Collection

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from .._stream import AsyncStreamProxy, SyncStreamProxy
from .._wrap import Instruments, Patches, async_wrapper, sync_wrapper
from ._chat import ChatCompletions
from ._embeddings import Embeddings
from ._responses import Responses

_logger = logging.getLogger(__name__)

_instruments = ("openai >= 1.40",)
__version__ = "0.1.0"
_CHAT = "openai.resources.chat.completions"
_EMBEDDINGS = "openai.resources.embeddings"
_RESPONSES = "openai.resources.responses.responses"


class OpenAIInstrumentor(BaseInstrumentor):
    """Patches the OpenAI SDK's chat, responses and embeddings methods to emit GenAI spans and metrics."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        self._patches = Patches("openai")
        try:
            from openai import AsyncStream, Stream
        except ImportError:
            _logger.info("openai is not installed; OpenAIInstrumentor does nothing")
            return
        tools = Instruments.from_options(kwargs, __name__, __version__)
        sync_chat, async_chat = ChatCompletions(Stream, SyncStreamProxy), ChatCompletions(AsyncStream, AsyncStreamProxy)
        self._wrap(_CHAT, "Completions", "create", sync_wrapper(tools, sync_chat))
        self._wrap(_CHAT, "AsyncCompletions", "create", async_wrapper(tools, async_chat))
        self._wrap(_CHAT, "Completions", "parse", sync_wrapper(tools, sync_chat))
        self._wrap(_CHAT, "AsyncCompletions", "parse", async_wrapper(tools, async_chat))
        sync_responses, async_responses = Responses(Stream, SyncStreamProxy), Responses(AsyncStream, AsyncStreamProxy)
        for method in ("create", "parse"):  # responses.stream(...) calls create
            self._wrap(_RESPONSES, "Responses", method, sync_wrapper(tools, sync_responses))
            self._wrap(_RESPONSES, "AsyncResponses", method, async_wrapper(tools, async_responses))
        self._wrap(_EMBEDDINGS, "Embeddings", "create", sync_wrapper(tools, Embeddings()))
        self._wrap(_EMBEDDINGS, "AsyncEmbeddings", "create", async_wrapper(tools, Embeddings()))

    def _wrap(self, module: str, cls: str, method: str, wrapper: Any) -> None:
        self._patches.wrap(module, cls, method, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patches.unwrap_all()
