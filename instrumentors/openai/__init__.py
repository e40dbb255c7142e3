"""OpenTelemetry instrumentation for the ``openai`` SDK.

Usage::

    from instrumentors.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=provider, meter_provider=meters, capture_content=True)

Each call of ``chat.completions.create`` / ``parse``, ``responses.create`` / ``stream`` / ``retrieve`` and
``embeddings.create`` (sync, async, streaming or not, ``with_raw_response`` too) becomes
one CLIENT span following the OpenTelemetry GenAI semantic conventions, plus the
``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` metrics.
Message content is recorded only when asked for, by ``capture_content=True`` or
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``SPAN_ONLY`` / ``SPAN_AND_EVENT``).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Collection

from .._stream import AsyncStreamProxy, SyncStreamProxy
from .._wrap import Patch, TableInstrumentor, async_wrapper, sync_wrapper
from ._chat import ChatCompletions
from ._embeddings import Embeddings
from ._responses import FetchResponse, Responses

_logger = logging.getLogger(__name__)

_instruments = ("openai >= 1.40",)
__version__ = "0.1.0"
_CHAT = "openai.resources.chat.completions"
_EMBEDDINGS = "openai.resources.embeddings"
_RESPONSES = "openai.resources.responses.responses"


class OpenAIInstrumentor(TableInstrumentor):
    """Patches the OpenAI SDK's chat, responses and embeddings methods to emit GenAI spans and metrics."""

    _package = "openai"
    _sdk_modules = ("openai",)
    _scope = __name__
    _version = __version__

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _table(self) -> list[Patch]:
        try:
            from openai import AsyncStream, Stream
        except ImportError:
            _logger.info("openai is not installed; OpenAIInstrumentor does nothing")
            return []
        chat, async_chat = ChatCompletions(Stream, SyncStreamProxy), ChatCompletions(AsyncStream, AsyncStreamProxy)
        responses, async_responses = Responses(Stream, SyncStreamProxy), Responses(AsyncStream, AsyncStreamProxy)
        table = []
        # (resource path on a client, module, sync class, sync operation, async class, async operation, methods)
        for path, module, cls, op, async_cls, async_op, methods in (
            ("chat.completions", _CHAT, "Completions", chat, "AsyncCompletions", async_chat, ("create", "parse")),
            ("responses", _RESPONSES, "Responses", responses, "AsyncResponses", async_responses, ("create", "parse")),  # .stream() calls create
            ("embeddings", _EMBEDDINGS, "Embeddings", Embeddings(), "AsyncEmbeddings", Embeddings(), ("create",)),
            ("responses", _RESPONSES, "Responses", FetchResponse(Stream, SyncStreamProxy), "AsyncResponses", FetchResponse(AsyncStream, AsyncStreamProxy), ("retrieve",)),
        ):
            for method in methods:
                table.append(Patch(module, cls, method, partial(sync_wrapper, op=op), path))
                table.append(Patch(module, async_cls, method, partial(async_wrapper, op=async_op), path, is_async=True))
        return table
