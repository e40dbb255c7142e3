"""OpenTelemetry instrumentation for the ``openai`` SDK.

Usage::

    from instrumentors.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument(tracer_provider=provider, capture_content=True)

Every ``chat.completions.create`` call (sync, async, streaming or not) becomes
one CLIENT span named ``chat {model}`` following the OpenTelemetry GenAI
semantic conventions. Message content is recorded only when asked for, by
``capture_content=True`` or ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
(``SPAN_ONLY`` / ``SPAN_AND_EVENT`` / ``true``).
"""

from __future__ import annotations

import logging
from typing import Any, Collection

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from .._genai import capture_content_enabled
from ._wrappers import async_chat_create, chat_create

_logger = logging.getLogger(__name__)

_instruments = ("openai >= 1.40",)
_CHAT_MODULE = "openai.resources.chat.completions"
__version__ = "0.1.0"


class OpenAIInstrumentor(BaseInstrumentor):
    """Patches the OpenAI SDK's chat completion methods to emit GenAI spans."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        try:
            from openai import AsyncStream, Stream
        except ImportError:
            _logger.info("openai is not installed; OpenAIInstrumentor does nothing")
            return
        tracer = trace.get_tracer(__name__, __version__, kwargs.get("tracer_provider"))
        capture = capture_content_enabled(kwargs.get("capture_content"))
        wrap_function_wrapper(_CHAT_MODULE, "Completions.create", chat_create(tracer, capture, Stream))
        wrap_function_wrapper(_CHAT_MODULE, "AsyncCompletions.create", async_chat_create(tracer, capture, AsyncStream))

    def _uninstrument(self, **kwargs: Any) -> None:
        import openai.resources.chat.completions as chat

        unwrap(chat.Completions, "create")
        unwrap(chat.AsyncCompletions, "create")
