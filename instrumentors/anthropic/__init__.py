"""OpenTelemetry instrumentation for the ``anthropic`` SDK.

Usage::

    from instrumentors.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().instrument(tracer_provider=provider, meter_provider=meters, capture_content=True)

``messages.create`` (sync, async, ``stream=True``) and the ``messages.stream(...)``
helpers become one CLIENT span ``chat {model}`` each, following the GenAI
conventions (system prompt in ``gen_ai.system_instructions``, input tokens
including cache reads and writes), plus the GenAI client metrics.

anthropic 2.x traces itself (span ``anthropic.messages.create``) when a tracer
provider exists. For the calls this instrumentor traces, the SDK's span is not
started, so one call is one span; everything else the SDK traces is left as is,
and so are its spans when this instrumentor is not installed (otel-aitracer's
mapper reads them too).
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any, Collection

from opentelemetry import context as otel_context

from .._genai import parsed_result
from .._stream import AsyncStreamProxy, SyncStreamProxy
from .._wrap import OURS, Patch, TableInstrumentor, async_wrapper, sync_wrapper
from ._helpers import AsyncManagerProxy, SyncManagerProxy, stream_helper_wrapper
from ._messages import MessageStreamRecorder, request_attributes, response_attributes

_logger = logging.getLogger(__name__)
_instruments = ("anthropic >= 0.40",)
__version__ = "0.1.0"
_MESSAGES = "anthropic.resources.messages.messages"
_BETA_MESSAGES = "anthropic.resources.beta.messages.messages"


class MessagesCreate:
    """``messages.create`` (and the request a stream helper makes) as a GenAI ``chat`` span."""

    def __init__(self, stream_type: type | None, proxy: type | None) -> None:
        self._stream_type = stream_type
        self._proxy = proxy

    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        from ._messages import OPERATION

        attrs = request_attributes(instance, kwargs, capture)
        return OPERATION, kwargs.get("model") if isinstance(kwargs.get("model"), str) else None, attrs

    def finish(self, call: Any, result: Any, capture: bool) -> Any:
        if self._stream_type is not None and self._proxy is not None and isinstance(result, self._stream_type):
            return self._proxy(result, MessageStreamRecorder(call, capture))
        message = parsed_result(result, "content")
        if message is not None:
            call.set_attributes(response_attributes(message, capture))
        return None


def _leave_our_calls_to_us(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The SDK's own call span, unless the call is one of ours (see the module docstring)."""
    if otel_context.get_value(OURS):
        return None
    return wrapped(*args, **kwargs)


class AnthropicInstrumentor(TableInstrumentor):
    """Patches the Anthropic SDK's Messages methods to emit GenAI spans and metrics."""

    _package = "anthropic"
    _sdk_modules = ("anthropic",)
    _scope = __name__
    _version = __version__
    _marker = OURS

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _table(self) -> list[Patch]:
        try:
            from anthropic import AsyncStream, Stream
        except ImportError:
            _logger.info("anthropic is not installed; AnthropicInstrumentor does nothing")
            return []
        create, async_create = MessagesCreate(Stream, SyncStreamProxy), MessagesCreate(AsyncStream, AsyncStreamProxy)
        helper = MessagesCreate(None, None)
        table = []
        for module, path in ((_MESSAGES, "messages"), (_BETA_MESSAGES, "beta.messages")):  # the beta client's methods are their own
            for method in ("create", "parse"):  # parse posts by itself, not through create
                table.append(Patch(module, "Messages", method, lambda tools: sync_wrapper(tools, create), path))
                table.append(Patch(module, "AsyncMessages", method, lambda tools: async_wrapper(tools, async_create), path, is_async=True))
            table.append(Patch(module, "Messages", "stream", lambda tools: stream_helper_wrapper(tools, helper, SyncManagerProxy), path))
            table.append(Patch(module, "AsyncMessages", "stream", lambda tools: stream_helper_wrapper(tools, helper, AsyncManagerProxy), path))
        if importlib.util.find_spec("anthropic._tracing") is not None:  # an SDK that traces itself (2.x)
            table.append(Patch("anthropic", "_base_client", "start_api_call_span", lambda tools: _leave_our_calls_to_us))
        return table

    def _prepare_client(self, client: Any) -> None:
        if hasattr(client, "_lazy_tracer"):  # anthropic 2.x traces itself: for this client, that span would double ours
            client._lazy_tracer = None
