"""``AITracer``: the AITracer SDK's surface (seed documents) on otel-aitracer's one pipeline.

Work in progress for issue #6: construction and its validation, ``wrap_openai``,
``wrap_anthropic``, ``wrap_gemini`` (that client or model instance only),
``extra_body={"aitracer_metadata": …}``, ``log()``, ``run()``, ``flush()``,
``shutdown()``, ``enabled``. Not exported yet: the session / feedback API is still to come.
"""

from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import orjson
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import _context
from ._context import MAX_METADATA_KEYS, METADATA_ATTRIBUTE, PROJECT_ATTRIBUTE
from ._processor import AITracerSpanProcessor
from .exceptions import ConfigurationError, ValidationError

_METADATA_KEY = "aitracer_metadata"
_LOG_FIELDS = {"model", "provider", "input_data", "output_data", "input_tokens", "output_tokens", "latency_ms", "status", "error_message", "metadata", "project"}
# Record fields a log() call sets directly (the mapper reads these attributes first).
LOG_INPUT = "aitracer.input"
LOG_OUTPUT = "aitracer.output"


class AITracer:
    """Records the calls of wrapped clients and ``log()`` entries to one project."""

    def __init__(
        self,
        api_key: str | None = None,
        project: str | None = None,
        enabled: bool = True,
        sync: bool = False,
        batch_size: int = 10,
        flush_interval: float = 5.0,
        flush_on_exit: bool = True,
        pii_detection: bool = True,
        pii_action: str = "mask",
        pii_types: list[str] | None = None,
        base_url: str | None = None,
        capture_content: bool = True,
        *,
        store: str | None = None,
    ) -> None:
        _check(enabled=enabled, sync=sync, flush_on_exit=flush_on_exit, capture_content=capture_content)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(flush_interval, (int, float)) or isinstance(flush_interval, bool) or flush_interval <= 0:
            raise ConfigurationError(f"flush_interval must be a positive number of seconds, got {flush_interval!r}")
        self.enabled = enabled
        self._processor = AITracerSpanProcessor(
            project, api_key, base_url, store, pii_detection, pii_action, pii_types, capture_content, sync,
            max_batch_size=batch_size, schedule_delay=float(flush_interval),
        )  # fmt: skip
        self.project_name = self._processor.settings.project
        self._provider = TracerProvider(shutdown_on_exit=flush_on_exit)
        self._provider.add_span_processor(self._processor)
        self._tracer = self._provider.get_tracer("otel_aitracer.facade")
        self._metadata: dict[str, Any] = {}

    # ---- context --------------------------------------------------------------------------------
    @contextmanager
    def _scope(self, metadata: Mapping[str, Any] | None = None) -> Iterator[None]:
        """This tracer's project and metadata (``set_metadata``, then per call) on the spans started inside."""
        outer = _context.current_project()
        with _context.project(outer or self.project_name):
            merged = {**self._metadata, **(metadata or {})}
            if merged:
                _context.set_metadata(merged)
            user = merged.get("user_id")
            if user is not None:  # the seed's way to name the app user without a session
                with _context.user(str(user)):
                    yield
            else:
                yield

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Metadata for every later call of this tracer."""
        self._metadata.update(metadata)

    def run(self, name: str | None = None) -> Any:
        """``otel_aitracer.run()`` for this tracer's calls."""
        return _context.run(name)

    def project(self, name: str) -> Any:
        """Record the calls made inside the block to project ``name``; reverts on exit."""
        return _context.project(name)

    def trace(self, trace_id: str | None = None, name: str | None = None) -> Any:
        """One trace for the block, with ``set_metadata()`` and ``add_tag()`` on what it yields."""
        return _context.trace(trace_id, name)

    def session(self, session_id: str, user_id: str | None = None, metadata: Mapping[str, Any] | None = None) -> Any:
        """Group the calls made inside the block under one session and app user."""
        return _context.session(session_id, user_id, metadata)

    # ---- clients --------------------------------------------------------------------------------
    def wrap_openai(self, client: Any) -> Any:
        """Trace this ``openai`` client instance only (sync or async; chat, responses, embeddings)."""
        if not self.enabled or getattr(client, "_aitracer_wrapped", False):
            return client
        import openai

        from instrumentors._stream import AsyncStreamProxy, SyncStreamProxy
        from instrumentors._wrap import Instruments, async_wrapper, sync_wrapper
        from instrumentors.openai._chat import ChatCompletions
        from instrumentors.openai._embeddings import Embeddings
        from instrumentors.openai._responses import Responses

        tools = Instruments(self._tracer, None, self._processor.settings.capture_content)
        is_async = isinstance(client, openai.AsyncOpenAI)
        stream, proxy, wrapper = (openai.AsyncStream, AsyncStreamProxy, async_wrapper) if is_async else (openai.Stream, SyncStreamProxy, sync_wrapper)
        for resource, op in (
            (client.chat.completions, ChatCompletions(stream, proxy)),
            (client.responses, Responses(stream, proxy)),
            (client.embeddings, Embeddings()),
        ):
            self._wrap_method(resource, "create", wrapper(tools, op), is_async)
        client._aitracer_wrapped = True
        return client

    def wrap_anthropic(self, client: Any) -> Any:
        """Trace this ``anthropic`` client instance only: ``messages.create`` and ``messages.stream``."""
        if not self.enabled or getattr(client, "_aitracer_wrapped", False):
            return client
        import anthropic

        from instrumentors._stream import AsyncStreamProxy, SyncStreamProxy
        from instrumentors._wrap import OURS, Instruments, async_wrapper, sync_wrapper
        from instrumentors.anthropic import MessagesCreate
        from instrumentors.anthropic._helpers import AsyncManagerProxy, SyncManagerProxy, stream_helper_wrapper

        if hasattr(client, "_lazy_tracer"):  # anthropic 2.x traces itself: that span would double ours
            client._lazy_tracer = None  # off for this client only
        tools = Instruments(self._tracer, None, self._processor.settings.capture_content, OURS)
        is_async = isinstance(client, anthropic.AsyncAnthropic)
        if is_async:
            create, helper = async_wrapper(tools, MessagesCreate(anthropic.AsyncStream, AsyncStreamProxy)), AsyncManagerProxy
        else:
            create, helper = sync_wrapper(tools, MessagesCreate(anthropic.Stream, SyncStreamProxy)), SyncManagerProxy
        self._wrap_method(client.messages, "create", create, is_async)
        self._wrap_method(client.messages, "stream", stream_helper_wrapper(tools, MessagesCreate(None, None), helper), False)
        client._aitracer_wrapped = True
        return client

    def wrap_gemini(self, model_or_client: Any) -> Any:
        """Trace this Gemini object only: a ``google.genai.Client`` (and its ``.aio``) or a legacy ``GenerativeModel``."""
        target = model_or_client
        if not self.enabled or getattr(target, "_aitracer_wrapped", False):
            return target
        from instrumentors._stream import AsyncStreamProxy, SyncStreamProxy
        from instrumentors._wrap import Instruments, async_wrapper, sync_wrapper
        from instrumentors.google_genai import EmbedContent, GenerateContent
        from instrumentors.google_genai._legacy import LegacyGenerateContent

        tools = Instruments(self._tracer, None, self._processor.settings.capture_content)
        if hasattr(target, "models") and hasattr(target, "aio"):  # google-genai Client
            models, aio = target.models, target.aio.models
            self._wrap_method(models, "generate_content", sync_wrapper(tools, GenerateContent()), False)
            self._wrap_method(models, "generate_content_stream", sync_wrapper(tools, GenerateContent(SyncStreamProxy)), False)
            self._wrap_method(models, "embed_content", sync_wrapper(tools, EmbedContent()), False)
            self._wrap_method(aio, "generate_content", async_wrapper(tools, GenerateContent()), True)
            self._wrap_method(aio, "generate_content_stream", async_wrapper(tools, GenerateContent(AsyncStreamProxy)), True)
        elif hasattr(target, "generate_content"):  # legacy google.generativeai.GenerativeModel
            self._wrap_method(target, "generate_content", sync_wrapper(tools, LegacyGenerateContent()), False)
        else:
            raise ConfigurationError(f"wrap_gemini takes a google.genai.Client or a GenerativeModel, got {type(target).__name__}")
        target._aitracer_wrapped = True
        return target

    def _wrap_method(self, resource: Any, name: str, traced: Any, is_async: bool) -> None:
        original = getattr(resource, name)

        if is_async:

            @functools.wraps(original)
            async def method(*args: Any, **kwargs: Any) -> Any:
                metadata = _pop_metadata(kwargs)
                with self._scope(metadata):
                    return await traced(original, resource, args, kwargs)

        else:

            @functools.wraps(original)
            def method(*args: Any, **kwargs: Any) -> Any:
                metadata = _pop_metadata(kwargs)
                with self._scope(metadata):
                    return traced(original, resource, args, kwargs)

        setattr(resource, name, method)

    # ---- manual logging -------------------------------------------------------------------------
    def log(self, data: Mapping[str, Any]) -> None:
        """Record one LLM call by hand (the seed's fields); it takes the same path as traced calls."""
        entry = _validated(data)
        if not self.enabled:
            return
        now = time.time_ns()
        latency = int(entry.get("latency_ms") or 0)
        attrs: dict[str, Any] = {
            GenAI.GEN_AI_OPERATION_NAME: GenAI.GenAiOperationNameValues.CHAT.value,
            GenAI.GEN_AI_PROVIDER_NAME: str(entry.get("provider") or "other"),
            GenAI.GEN_AI_REQUEST_MODEL: str(entry["model"]),
            GenAI.GEN_AI_USAGE_INPUT_TOKENS: int(entry.get("input_tokens") or 0),
            GenAI.GEN_AI_USAGE_OUTPUT_TOKENS: int(entry.get("output_tokens") or 0),
            PROJECT_ATTRIBUTE: str(entry.get("project") or _context.current_project() or self.project_name),
        }
        if entry.get("input_data") is not None:
            attrs[LOG_INPUT] = orjson.dumps(entry["input_data"], default=str).decode()
        if entry.get("output_data") is not None:
            attrs[LOG_OUTPUT] = orjson.dumps(entry["output_data"], default=str).decode()
        metadata = {**self._metadata, **(entry.get("metadata") or {})}
        if metadata:
            attrs[METADATA_ATTRIBUTE] = orjson.dumps(metadata, default=str).decode()
        span = self._tracer.start_span(f"chat {entry['model']}", kind=SpanKind.CLIENT, attributes=attrs, start_time=now - latency * 1_000_000)
        if entry.get("status") == "error":
            span.set_status(Status(StatusCode.ERROR, str(entry.get("error_message") or "error")))
        span.end(end_time=now)

    # ---- lifecycle ------------------------------------------------------------------------------
    def flush(self, timeout: float = 30.0) -> bool:
        return self._processor.force_flush(int(timeout * 1000))

    def shutdown(self) -> None:
        self._provider.shutdown()


def _check(**flags: Any) -> None:
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ConfigurationError(f"{name} must be True or False, got {value!r}")


def _pop_metadata(kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """``extra_body={"aitracer_metadata": …}`` is ours: recorded, and never sent to the provider."""
    extra = kwargs.get("extra_body")
    if not isinstance(extra, Mapping) or _METADATA_KEY not in extra:
        return None
    rest = {k: v for k, v in extra.items() if k != _METADATA_KEY}
    if rest:
        kwargs["extra_body"] = rest
    else:
        del kwargs["extra_body"]
    metadata = extra[_METADATA_KEY]
    return dict(metadata) if isinstance(metadata, Mapping) else None


def _validated(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValidationError("data", f"must be a dict, got {type(data).__name__}")
    unknown = set(data) - _LOG_FIELDS
    if unknown:
        raise ValidationError(sorted(unknown)[0], f"is not a log field (known: {', '.join(sorted(_LOG_FIELDS))})")
    if not isinstance(data.get("model"), str) or not data["model"]:
        raise ValidationError("model", "is required and must be a non-empty string")
    for field in ("input_tokens", "output_tokens", "latency_ms"):
        value = data.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValidationError(field, f"must be a non-negative integer, got {value!r}")
    if data.get("status", "success") not in ("success", "error"):
        raise ValidationError("status", f"must be 'success' or 'error', got {data.get('status')!r}")
    metadata = data.get("metadata")
    if metadata is not None and (not isinstance(metadata, Mapping) or len(metadata) > MAX_METADATA_KEYS):
        raise ValidationError("metadata", f"must be a dict of at most {MAX_METADATA_KEYS} keys")
    return dict(data)

