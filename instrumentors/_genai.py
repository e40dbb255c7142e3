"""The one way every instrumentor starts, fills, ends and fails a GenAI span.

Provider modules translate SDK arguments and responses into attribute dicts;
everything about the span's life (kind, name, current context, error
recording, content capture switch) lives here so the providers agree.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import os
import sys
import time
import urllib.parse
from typing import Any, Mapping

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from ._events import GenAIEvents
from ._metrics import GenAIMetrics
from ._stream import StreamRecorder

_logger = logging.getLogger(__name__)
# Set while one of our LLM spans is current: a second wrapper of the same call adds no span of its own.
IN_CALL = otel_context.create_key("otel_aitracer.in_call")

# Names the conventions define that the semconv package has no constant for yet: one place for every provider.
FETCH_RESPONSE = "fetch_response"  # the operation of fetching a response made earlier (OpenAI retrieve, Gemini interactions.get)
REASONING_LEVEL = "gen_ai.request.reasoning.level"
PREVIOUS_RESPONSE_ID = "gen_ai.request.previous_response.id"
CONVERSATION_COMPACTED = "gen_ai.conversation.compacted"

# The finish reason of a stream closed before the provider gave one (broken, or closed early): the conventions' value.
UNFINISHED = "error"

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# util-genai's documented modes, plus the boolean spellings the older
# instrumentations accepted (users still have them in their environments).
_CAPTURE_ON = {"span_only", "span_and_event", "event_only", "true", "1", "yes"}
_CAPTURE_OFF = {"no_content", "false", "0", "no", "none", ""}


def capture_content_enabled(explicit: bool | None = None) -> bool:
    """Whether message content goes on spans: ``explicit`` wins over the env var."""
    if explicit is not None:
        return bool(explicit)
    raw = os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower()
    if raw in _CAPTURE_ON:
        return True
    if raw not in _CAPTURE_OFF:
        _logger.warning("%s=%r is not a known mode; content is not captured", CAPTURE_CONTENT_ENV, raw)
    return False


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)  # built once, not per call


def to_json(value: Any) -> str:
    """Compact JSON for a content attribute; anything unknown becomes its str()."""
    return _ENCODER.encode(value)


_quote = json.encoder.encode_basestring  # the C string encoder: quotes and escapes one str (ensure_ascii off)


def text_message_json(role: str, text: str, finish_reason: str | None = None) -> str:
    """One ``{"role", "parts": [text]}`` message as JSON without building it first: the common
    case, on every call, so it skips the dicts and the generic encoder (same output as ``to_json``)."""
    tail = f',"finish_reason":{_quote(finish_reason)}}}' if finish_reason is not None else "}"
    return f'{{"role":{_quote(role)},"parts":[{{"type":"text","content":{_quote(text)}}}]{tail}'



def given(value: Any) -> bool:
    """False for None and for the SDKs' ``omit`` / ``NOT_GIVEN`` sentinels."""
    return value is not None and type(value).__name__ not in ("Omit", "NotGiven")


def request_params(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    """A call's request parameters: its keyword arguments and what it passes in ``extra_body`` (the SDK sends
    both; anthropic 2.x takes sampling parameters only there). A named argument wins."""
    extra = kwargs.get("extra_body")
    return {**extra, **kwargs} if isinstance(extra, Mapping) and extra else kwargs


_OUTPUT_TYPES = {"json_object": "json", "json_schema": "json", "json": "json", "application/json": "json", "text": "text", "text/plain": "text"}


def output_type(requested: Any) -> str | None:
    """The conventions' ``gen_ai.output.type`` for the format a request asks for: a format name or MIME type,
    or a class to parse the answer into (structured output, JSON)."""
    if isinstance(requested, type):
        return "json"
    return _OUTPUT_TYPES.get(requested) if isinstance(requested, str) else None


def as_dict(value: Any) -> dict[str, Any]:
    """A mapping or pydantic model as a plain dict (``{}`` for anything else)."""
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_none=True)
    return {}


def parse_json(text: Any) -> Any:
    """Tool-call arguments as structure when they are JSON text, else as given."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def parsed_result(result: Any, field: str) -> Any:
    """The SDK object a call returned, through ``with_raw_response``: the raw response's parsed object
    (the SDK caches what ``parse()`` builds, so the application gets that same object), or ``None`` for
    a raw stream, which the application reads itself. ``field`` is one the parsed object always has."""
    if hasattr(result, field) or not hasattr(result, "parse"):
        return result
    if str(getattr(result, "headers", {}).get("content-type", "")).startswith("text/event-stream"):
        return None
    return result.parse()


BINARY_MODES = ("placeholder", "base64")
_binary = ["placeholder"]  # how inline media is captured: set by instrument(binary_content=...), process-wide


def set_binary_content(mode: str | None) -> None:
    """``placeholder`` (the default: size and hash, never the bytes) or ``base64`` (the conventions' form: the bytes)."""
    if mode is not None:
        if mode not in BINARY_MODES:
            raise ValueError(f"binary_content must be one of {', '.join(BINARY_MODES)}, got {mode!r}")
        _binary[0] = mode


def blob_placeholder(data: str | bytes, mime_type: str | None, modality: str) -> dict[str, Any]:
    """What stands for inline media in content attributes: by default its size and a hash, never the bytes (a
    privacy choice); with ``binary_content="base64"`` the bytes as base64, as the conventions define a blob part."""
    if _binary[0] == "base64":
        content = data if isinstance(data, str) else base64.b64encode(bytes(data)).decode()  # SDKs give base64 text or bytes
    else:
        raw = data.encode() if isinstance(data, str) else bytes(data)
        content = f"<{len(raw)} bytes, sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"
    part: dict[str, Any] = {"type": "blob", "modality": modality, "content": content}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def modality_of(mime_type: str | None) -> str:
    """The conventions' modality for a MIME type: image, audio, video, else document."""
    kind = (mime_type or "").split("/")[0]
    return kind if kind in ("image", "audio", "video") else "document"


def media_part(modality: str | None = None, *, data: Any = None, url: Any = None, file_id: Any = None, mime_type: str | None = None) -> dict[str, Any]:
    """One piece of media in the conventions' part form, whatever the provider's shape: inline bytes (``data``, or a
    ``data:`` URL) become a blob placeholder, a URL a ``uri`` part, an uploaded file's id a ``file`` part."""
    for inline in (url, data):
        if isinstance(inline, str) and inline.startswith("data:"):
            header, _, data = inline.partition(",")
            mime_type, url = mime_type or header[5:].split(";")[0] or None, None
    modality = modality or modality_of(mime_type)
    if data:
        return blob_placeholder(data, mime_type, modality)
    if url:
        part: dict[str, Any] = {"type": "uri", "modality": modality, "uri": str(url)}
    elif file_id:
        part = {"type": "file", "modality": modality, "file_id": str(file_id)}
    else:
        return {"type": modality}  # nothing to point at: a part of the modality's own type (a generic part)
    if mime_type:
        part["mime_type"] = mime_type
    return part


TOOL_DEFINITIONS = GenAI.GEN_AI_TOOL_DEFINITIONS


def builtin_tool(tool_type: Any, name: Any = None) -> dict[str, Any]:
    """A tool the provider runs itself (web search, code execution…) as a tool definition: its type and name."""
    return {"type": str(tool_type or "unknown"), "name": str(name or tool_type or "unknown")}


def function_definition(name: Any, description: Any = None, parameters: Any = None) -> dict[str, Any]:
    """A function the model may call, in the conventions' tool definition form (with content capture only)."""
    definition: dict[str, Any] = {"type": "function", "name": str(name)}
    if description:
        definition["description"] = description
    if parameters is not None:
        definition["parameters"] = parameters
    return definition


def modality_usage(details: Any, direction: str) -> dict[str, Any]:
    """Per-modality token counts (``gen_ai.usage.{modality}.{direction}``) from ``[(modality, count)]``."""
    attrs: dict[str, Any] = {}
    for modality, count in details:
        if isinstance(count, int) and modality:
            key = f"gen_ai.usage.{str(modality).lower()}.{direction}"
            attrs[key] = attrs.get(key, 0) + count
    return attrs


def server_tool_call(call_id: Any, name: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """A tool the provider runs itself (web search, code execution…), as the conventions' server tool call part."""
    return {"type": "server_tool_call", "id": call_id, "name": name, "server_tool_call": {"type": name, **details}}


def server_tool_response(call_id: Any, name: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """What such a tool returned, as the conventions' server tool call response part."""
    return {"type": "server_tool_call_response", "id": call_id, "server_tool_call_response": {"type": name, **details}}


def error_type(exc: BaseException) -> str:
    return type(exc).__qualname__


class LLMCall:
    """One instrumented call: its span, made current while the SDK runs, and its metric points.

    The first instrumentation to handle a model call owns it (the GenAI conventions' rule): when another
    one's model-call span is already current (a framework's own ``chat`` span around the SDK call), this
    call adds what it knows to that span, keys it lacks only, and makes no span, no metric point and no
    event of its own; it never ends that span. The other way round, while this call's span is current the
    context holds the conventions' inference marker, so an instrumentation built on util-genai inside it
    makes no span either and publishes what it knows, which this call adds to its span when it ends.
    """

    __slots__ = ("span", "chunks", "_token", "_metrics", "_events", "_started", "_labels", "_owner", "_inference")

    def __init__(
        self, tracer: Tracer, operation: str, model: str | None, attributes: Mapping[str, Any], metrics: GenAIMetrics | None = None,
        events: GenAIEvents | None = None,
    ) -> None:  # fmt: skip
        outer = trace.get_current_span()
        self._owner = not _is_model_call(outer)
        if self._owner:
            name = f"{operation} {model}" if model else operation
            self.span: Span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        else:
            self.span = outer
            metrics = events = None
            enrich(outer, attributes)
        self.chunks: tuple[float, float] | None = None  # a stream's (time to first chunk, mean time per later chunk)
        self._token: otel_context.Token[otel_context.Context] | None = None
        self._metrics = metrics
        self._events = events
        self._started = time.monotonic()
        # What the metric points and the exception event need: the request's attributes now (the span copied them),
        # and with metrics on, the response's model and usage when they come.
        self._labels: dict[str, Any] = attributes  # type: ignore[assignment]
        self._inference: Any = _inference_marker() if self._owner else None

    def activate(self, marker: str | None = None) -> None:
        """Make the span current so transport spans (httpx) nest under it; ``marker`` is set in the context too."""
        ctx = otel_context.set_value(IN_CALL, True, trace.set_span_in_context(self.span))
        if marker is not None:
            ctx = otel_context.set_value(marker, True, ctx)
        if self._inference is not None:
            ctx = otel_context.set_value(INFERENCE_CONTEXT_KEY, self._inference, ctx)
        self._token = otel_context.attach(ctx)

    def deactivate(self) -> None:
        if self._token is not None:
            otel_context.detach(self._token)
            self._token = None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        present = {k: v for k, v in attributes.items() if v is not None}
        if self._metrics is not None:
            self._labels.update(present)
        if self._owner:
            self.span.set_attributes(present)  # a non-recording span ignores it
        else:
            enrich(self.span, present)

    def end(self) -> None:
        if self._owner:
            self._add_published()
            self.span.end()
        self._record(None)

    def _add_published(self) -> None:
        """What a nested util-genai instrumentation published into the marker, where the span lacks it."""
        data = self._inference
        if data is None:
            return
        published = dict(getattr(data, "attributes", None) or {})
        if getattr(data, "conversation_id", None):
            published[GenAI.GEN_AI_CONVERSATION_ID] = data.conversation_id
        enrich(self.span, published)

    def fail(self, exc: BaseException) -> None:
        """Record ``exc`` as the call's failure and end the span (the owner's span: only its error type, if it has none)."""
        if not self._owner:
            enrich(self.span, {error_attributes.ERROR_TYPE: error_type(exc)})
            return
        self.span.set_attribute(error_attributes.ERROR_TYPE, error_type(exc))
        self.span.record_exception(exc)
        self.span.set_status(Status(StatusCode.ERROR, str(exc) or error_type(exc)))
        self._exception_event(error_type(exc), str(exc))
        self._add_published()
        self.span.end()
        self._record(exc)

    def fail_reported(self, kind: str, message: str) -> None:
        """End the span as failed for an error the API reported in-band (an ``error`` stream event)."""
        if not self._owner:
            enrich(self.span, {error_attributes.ERROR_TYPE: kind})
            return
        self.span.set_attribute(error_attributes.ERROR_TYPE, kind)
        self.span.set_status(Status(StatusCode.ERROR, message or kind))
        self._exception_event(kind, message)
        self._add_published()
        self.span.end()
        self._record(RuntimeError(kind))

    def _exception_event(self, kind: str, message: str) -> None:
        if self._events is not None:
            try:
                self._events.exception(self.span, kind, message, self._labels)
            except Exception:  # noqa: BLE001 - an event failure must not reach the application
                _logger.debug("failed to emit the GenAI exception event", exc_info=True)

    def _record(self, error: BaseException | None) -> None:
        if self._metrics is not None:
            try:
                self._metrics.record(time.monotonic() - self._started, self._labels, error, self.chunks)
            except Exception:  # noqa: BLE001 - a metrics failure must not reach the application
                _logger.debug("failed to record GenAI metrics", exc_info=True)


_MODEL_CALLS = frozenset(op.value for op in (GenAI.GenAiOperationNameValues.CHAT, GenAI.GenAiOperationNameValues.GENERATE_CONTENT,
                                             GenAI.GenAiOperationNameValues.TEXT_COMPLETION, GenAI.GenAiOperationNameValues.EMBEDDINGS))  # fmt: skip


# The conventions' inference marker (semantic-conventions-genai PR #475, util-genai 1.3b0): a plain string key
# whose value must be util-genai's own InferenceData for its instrumentations to see it.
INFERENCE_CONTEXT_KEY = "opentelemetry.genai.client.inference.context"
_UTIL_GENAI_INFERENCE = "opentelemetry.util.genai._inference_invocation"


def _inference_marker() -> Any:
    """A fresh ``InferenceData`` where util-genai is loaded (an instrumentation built on it is in use; never
    imported for it), else None."""
    data_class = getattr(sys.modules.get(_UTIL_GENAI_INFERENCE), "InferenceData", None)
    try:
        return data_class() if data_class is not None else None
    except Exception:  # noqa: BLE001 - a util-genai that changed its data class: no marker, nothing broken
        return None


def _is_model_call(span: Any) -> bool:
    """Whether ``span`` is another instrumentation's model-call span, still open (ours never is current here:
    a call inside one of our calls is not traced at all)."""
    attributes = getattr(span, "attributes", None)
    return bool(span.is_recording() and attributes and attributes.get(GenAI.GEN_AI_OPERATION_NAME) in _MODEL_CALLS)


def enrich(span: Any, attributes: Mapping[str, Any]) -> None:
    """Add to the owner's span what it lacks; its own values win."""
    existing = getattr(span, "attributes", None) or {}
    span.set_attributes({k: v for k, v in attributes.items() if v is not None and k not in existing})


# A total token count as the provider reported it. The GenAI conventions have none (we add no gen_ai.* name
# they do not define); OpenLLMetry's name for it is the one other tools read.
TOTAL_TOKENS = "llm.usage.total_tokens"
# The conventions renamed ``gen_ai.usage.cache_creation.input_tokens`` (no semconv constant for the new name yet).
CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
# What the provider says the call cost in USD (OpenRouter's ``usage.cost``); the name other instrumentations use.
USAGE_COST = "gen_ai.usage.cost"


def reported_cost(usage: Any) -> dict[str, Any]:
    """The cost a provider reports in its usage, as an attribute (empty when it reports none). An SDK keeps a field
    it does not know in ``model_extra`` (asking the model for a missing attribute would raise, slowly)."""
    extra = getattr(usage, "model_extra", None)
    cost = extra.get("cost") if isinstance(extra, dict) else None
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0 and cost != float("inf"):
        return {USAGE_COST: float(cost)}
    return {}


def usage_attributes(
    input_tokens: Any, output_tokens: Any, cache_read: Any = None, reasoning: Any = None, cache_write: Any = None, total: Any = None
) -> dict[str, Any]:
    """Token counts as semconv attributes, skipping what the provider did not report (cache reads and writes
    are part of the input count, reasoning part of the output count; a total as the provider reported it,
    which an anomaly check compares with input + output)."""
    attrs = {
        TOTAL_TOKENS: total,
        GenAI.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
        GenAI.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: cache_read or None,
        CACHE_WRITE_INPUT_TOKENS: cache_write or None,
        GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: reasoning or None,
    }
    return {k: v for k, v in attrs.items() if isinstance(v, int)}


def dimension_count(vector: Any) -> int | None:
    """The length of a returned embedding: a list of floats, or base64 of float32s (``encoding_format="base64"``)."""
    if isinstance(vector, (list, tuple)):
        return len(vector) or None
    if isinstance(vector, str) and vector:
        return len(base64.b64decode(vector)) // 4
    return None


def server_attributes_of(server: tuple[str | None, int | None]) -> dict[str, Any]:
    host, port = server
    if not host:
        return {}
    return {server_attributes.SERVER_ADDRESS: host, server_attributes.SERVER_PORT: port} if port else {server_attributes.SERVER_ADDRESS: host}


def server_of(client: Any) -> tuple[str | None, int | None]:
    """``server.address`` / ``server.port`` from the SDK client's base URL (parsed once per URL object)."""
    url = getattr(client, "base_url", None)
    if url is None:
        return None, None
    hit = _SERVERS.get(id(url))
    if hit is not None and hit[0] is url:
        return hit[1]
    if len(_SERVERS) > 256:
        _SERVERS.clear()
    result = _host_and_port(str(url))
    _SERVERS[id(url)] = (url, result)  # holding the URL keeps its id from being reused
    return result


_SERVERS: dict[int, tuple[Any, tuple[str | None, int | None]]] = {}


@functools.lru_cache(maxsize=64)
def _host_and_port(url: str) -> tuple[str | None, int | None]:
    parsed = urllib.parse.urlsplit(url)
    return parsed.hostname or None, parsed.port or (443 if parsed.scheme == "https" else 80)


class CallStreamRecorder(StreamRecorder):
    """A stream recorder that owns one :class:`LLMCall`: notes the first chunk, then ends or fails the call."""

    __slots__ = ("_call", "_capture", "_started", "_first_at", "_last_at", "_later")

    def __init__(self, call: LLMCall, capture: bool) -> None:
        super().__init__()
        self._call = call
        self._capture = capture
        self._started = time.monotonic()
        self._first_at: float | None = None
        self._last_at = 0.0
        self._later = 0  # chunks after the first

    def first_chunk(self) -> bool:
        """Called on every chunk: True on the first (and notes the times the streaming metrics need)."""
        now = time.monotonic()
        if self._first_at is not None:
            self._last_at, self._later = now, self._later + 1
            return False
        self._first_at = now
        return True

    def finish(self, attrs: dict[str, Any], error: BaseException | None, reported: tuple[str, str] | None = None) -> None:
        """End the call: failed by ``error`` (raised) or ``reported`` (an in-band ``(code, message)``), else ok."""
        if self._first_at is not None:
            attrs[GenAI.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self._first_at - self._started
            # one point per stream for the time per chunk: the mean interval (a point per chunk would cost the app's thread)
            self._call.chunks = (self._first_at - self._started, (self._last_at - self._first_at) / self._later if self._later else -1.0)
        self._call.set_attributes(attrs)
        if error is not None:
            self._call.fail(error)
        elif reported is not None:
            self._call.fail_reported(*reported)
        else:
            self._call.end()
