"""``AITracer``: the AITracer SDK's surface (seed documents) on otel-aitracer's one pipeline.

Each tracer owns a ``TracerProvider`` with one :class:`AITracerSpanProcessor`, so
several tracers in one process record to their own projects and destinations.
Wrapping patches the given client instance only, with the instrumentors' own
operations; ``log()`` starts a span like any call, so every record takes the
same mapping, redaction, pricing and sink.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Mapping

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import _context
from ._log_entry import parent_context, span_attributes, span_times, validated
from ._processor import AITracerSpanProcessor
from ._sessions import Session
from .exceptions import ConfigurationError

_METADATA_KEY = "aitracer_metadata"


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
            max_batch_size=batch_size, schedule_delay=float(flush_interval), flush_on_exit=flush_on_exit,
        )  # fmt: skip
        self.project_name = self._processor.settings.project
        self._provider = TracerProvider(shutdown_on_exit=flush_on_exit)
        self._provider.add_span_processor(self._processor)
        self._tracer = self._provider.get_tracer("otel_aitracer.facade")
        self._metadata: dict[str, Any] = {}
        self._project: ContextVar[str | None] = ContextVar(f"aitracer_project_{id(self)}", default=None)

    # ---- context --------------------------------------------------------------------------------
    def _current_project(self) -> str:
        """``tracer.project()`` block < ``otel_aitracer.project()`` block < this tracer's project."""
        return self._project.get() or _context.current_project() or self.project_name

    @contextmanager
    def _scope(self, metadata: Mapping[str, Any] | None = None) -> Iterator[None]:
        """This tracer's project and metadata (``set_metadata``, then per call) on the spans started inside."""
        merged = {**self._metadata, **(metadata or {})}
        if "step_name" in merged and _context.current_run() is not None:
            _context.step(str(merged.pop("step_name")))  # names this call's step in the run
        with _context.project(self._current_project()):
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
        return _context.run(name, tracer_provider=self._provider)

    @contextmanager
    def project(self, name: str) -> Iterator[str]:
        """Record this tracer's calls made inside the block to project ``name``; reverts on exit."""
        token = self._project.set(str(name))
        try:
            yield name
        finally:
            self._project.reset(token)

    def trace(self, trace_id: str | None = None, name: str | None = None) -> Any:
        """One trace for the block, with ``set_metadata()`` and ``add_tag()`` on what it yields."""
        return _context.trace(trace_id, name, tracer_provider=self._provider)

    @contextmanager
    def session(self, session_id: str, user_id: str | None = None, metadata: Mapping[str, Any] | None = None) -> Iterator[Session]:
        """Group the calls made inside the block under one session and app user.

        The session's start, end and feedback (``thumbs_up()``, ``thumbs_down()``,
        ``feedback(text)``, ``rate(n)``) go where this tracer's records go.
        """
        if not self.enabled:
            yield Session(str(session_id), user_id, metadata, self.project_name, None)
            return
        deliver = self._processor.submit_session_event
        with _context.session(session_id, user_id, metadata, deliver=deliver, project=self._current_project()) as handle:
            yield handle

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
        for resource, op, methods in (
            (client.chat.completions, ChatCompletions(stream, proxy), ("create", "parse")),  # .stream() calls create
            (client.responses, Responses(stream, proxy), ("create", "parse")),
            (client.embeddings, Embeddings(), ("create",)),
        ):
            for method in methods:
                self._wrap_method(resource, method, wrapper(tools, op), is_async)
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
    def log(self, data: Mapping[str, Any] | None = None, **fields: Any) -> None:
        """Record one LLM call by hand; it takes the same path as traced calls.

        Takes the seed's dict (``log({"model": …})``) or the SDK's keywords
        (``log(model=…, provider=…)``); a bad field raises :class:`ValidationError`.
        """
        if not self.enabled:
            return
        entry = validated({**data, **fields} if isinstance(data, Mapping) else (fields if data is None else data))
        with self._scope(entry.get("metadata")):
            start, end = span_times(entry)
            span = self._tracer.start_span(
                f"chat {entry['model']}", context=parent_context(entry), kind=SpanKind.CLIENT, attributes=span_attributes(entry), start_time=start
            )  # fmt: skip
            if entry.get("status") == "error":
                span.set_status(Status(StatusCode.ERROR, str(entry.get("error_message") or entry.get("error_type") or "error")))
            span.end(end_time=end)

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
