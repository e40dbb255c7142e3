"""wrapt wrappers for the patched OpenAI methods, sync and async side by side."""

from __future__ import annotations

import logging
from typing import Any, Callable

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import Tracer

from .._genai import LLMCall
from .._stream import AsyncStreamProxy, SyncStreamProxy
from . import _chat

_logger = logging.getLogger(__name__)


def _start_chat(tracer: Tracer, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> LLMCall | None:
    """Start the call's span; ``None`` (and a log line) if that fails."""
    try:
        attrs = _chat.request_attributes(kwargs, _chat.server_of(getattr(instance, "_client", None)))
        if capture_content:
            attrs[GenAI.GEN_AI_INPUT_MESSAGES] = _chat.input_messages(kwargs.get("messages"))
        call = LLMCall(tracer, _chat.OPERATION, attrs.get(GenAI.GEN_AI_REQUEST_MODEL), attrs)
        call.activate()
        return call
    except Exception:  # noqa: BLE001 - never let telemetry break the call
        _logger.debug("failed to start an OpenAI chat span", exc_info=True)
        return None


def _finish_chat(call: LLMCall, result: Any, capture_content: bool, stream_type: type, proxy: type) -> Any:
    """End the span for a full response, or hand it to a stream proxy that ends it later."""
    try:
        if isinstance(result, stream_type):
            return proxy(result, _chat.ChatStreamRecorder(call, capture_content))
        call.set_attributes(_chat.response_attributes(result, capture_content))
    except Exception:  # noqa: BLE001
        _logger.debug("failed to finish an OpenAI chat span", exc_info=True)
    call.end()
    return result


def chat_create(tracer: Tracer, capture_content: bool, stream_type: type) -> Callable[..., Any]:
    def traced(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        call = _start_chat(tracer, instance, kwargs, capture_content)
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            call.deactivate()
        return _finish_chat(call, result, capture_content, stream_type, SyncStreamProxy)

    return traced


def async_chat_create(tracer: Tracer, capture_content: bool, stream_type: type) -> Callable[..., Any]:
    async def traced(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        call = _start_chat(tracer, instance, kwargs, capture_content)
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            call.deactivate()
        return _finish_chat(call, result, capture_content, stream_type, AsyncStreamProxy)

    return traced
