"""The legacy ``google-generativeai`` SDK: ``GenerativeModel.generate_content`` (sync, async, ``stream=True``).

Patched only once the application imports ``google.generativeai`` (a post-import
hook), because importing it prints a deprecation warning of its own. A streamed
response accumulates its chunks itself, so the span ends with what it holds when
iteration ends, however it ends.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Iterator

import wrapt
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from .._genai import UNFINISHED, LLMCall, to_json
from .._stream import StreamRecorder
from ._generate import GEMINI, GENERATE, _parts, finish_reason, input_messages, model_name, usage

_logger = logging.getLogger(__name__)
LEGACY_MODULE = "google.generativeai.generative_models"
_CONFIG_PARAMS = {
    "temperature": GenAI.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": GenAI.GEN_AI_REQUEST_TOP_P,
    "top_k": GenAI.GEN_AI_REQUEST_TOP_K,
    "max_output_tokens": GenAI.GEN_AI_REQUEST_MAX_TOKENS,
}


def _proto_dict(message: Any) -> dict[str, Any]:
    to_dict = getattr(type(message), "to_dict", None)
    return to_dict(message) if to_dict is not None else {}


def _config(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return _proto_dict(value) if value is not None else {}


class LegacyGenerateContent:
    """``GenerativeModel.generate_content[_async]`` as a ``generate_content`` span."""

    def start(self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], capture: bool) -> tuple[str, str | None, dict[str, Any]]:
        model = model_name(getattr(instance, "model_name", None))
        attrs: dict[str, Any] = {GenAI.GEN_AI_OPERATION_NAME: GENERATE, GenAI.GEN_AI_PROVIDER_NAME: GEMINI}
        if model:
            attrs[GenAI.GEN_AI_REQUEST_MODEL] = model
        config = {**_config(getattr(instance, "_generation_config", None)), **_config(kwargs.get("generation_config"))}
        for param, key in _CONFIG_PARAMS.items():
            if config.get(param) is not None:
                attrs[key] = config[param]
        if kwargs.get("stream"):
            attrs[GenAI.GEN_AI_REQUEST_STREAM] = True
        if capture:
            contents = args[0] if args else kwargs.get("contents")
            attrs[GenAI.GEN_AI_INPUT_MESSAGES] = to_json(input_messages(contents if isinstance(contents, (str, list, dict)) else _proto_dict(contents)))
            system = getattr(instance, "_system_instruction", None)
            if system is not None:
                attrs[GenAI.GEN_AI_SYSTEM_INSTRUCTIONS] = to_json([p for p in _parts(_proto_dict(system)) if p["type"] == "text"])
        return GENERATE, model, attrs

    def finish(self, call: LLMCall, result: Any, capture: bool) -> Any:
        if getattr(result, "_iterator", None) is not None:  # stream=True and not yet read
            return LegacyStreamProxy(result, _LegacyRecorder(call, result, capture))
        call.set_attributes(response_attributes(result, capture, "error"))
        return None


def response_attributes(response: Any, capture: bool, unfinished: str) -> dict[str, Any]:
    candidates = list(getattr(response, "candidates", None) or ())
    reasons = [finish_reason(getattr(c.finish_reason, "name", None) if c.finish_reason else None, unfinished) for c in candidates]
    attrs: dict[str, Any] = {GenAI.GEN_AI_RESPONSE_FINISH_REASONS: reasons} if candidates else {}
    attrs.update(usage(getattr(response, "usage_metadata", None)))
    if capture and candidates:
        attrs[GenAI.GEN_AI_OUTPUT_MESSAGES] = to_json(
            [{"role": "assistant", "parts": _parts(_proto_dict(c.content)), "finish_reason": r} for c, r in zip(candidates, reasons)]
        )
    return attrs


class _LegacyRecorder(StreamRecorder):
    __slots__ = ("_call", "_response", "_capture")

    def __init__(self, call: LLMCall, response: Any, capture: bool) -> None:
        super().__init__()
        self._call = call
        self._response = weakref.proxy(response)  # the proxy's finalizer must not keep the response alive
        self._capture = capture

    def on_end(self, error: BaseException | None) -> None:
        unfinished = UNFINISHED
        try:
            self._call.set_attributes(response_attributes(self._response, self._capture, unfinished))
        except Exception:  # noqa: BLE001 - a response left mid-stream refuses some reads; the span still ends
            self._call.set_attributes({GenAI.GEN_AI_RESPONSE_FINISH_REASONS: [unfinished]})
        if error is None:
            self._call.end()
        else:
            self._call.fail(error)


class LegacyStreamProxy(wrapt.ObjectProxy):
    """An iterable (not an iterator) response: each ``iter()`` is watched, and ``resolve()`` too."""

    def __init__(self, wrapped: Any, recorder: _LegacyRecorder) -> None:
        super().__init__(wrapped)
        self._self_recorder = recorder
        weakref.finalize(self, recorder.end)

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self.__wrapped__
        except BaseException as exc:
            self._self_recorder.end(None if isinstance(exc, GeneratorExit) else exc)
            raise
        self._self_recorder.end()

    def resolve(self) -> None:
        try:
            self.__wrapped__.resolve()
        except BaseException as exc:
            self._self_recorder.end(exc)
            raise
        self._self_recorder.end()
