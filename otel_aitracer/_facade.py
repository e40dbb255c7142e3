"""``AITracer``: the AITracer SDK's surface (seed documents) on otel-aitracer's one pipeline.

Each tracer owns a ``TracerProvider`` with one :class:`AITracerSpanProcessor`, so
several tracers in one process record to their own projects and destinations.
Wrapping patches the given client instance only, with the instrumentors' own
operations; ``log()`` starts a span like any call, so every record takes the
same mapping, redaction, pricing and sink.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Mapping

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._instrumentors import load_instrumentor
from ._log_entry import parent_context, span_attributes, span_times, validated
from ._processor import AITracerSpanProcessor
from ._scope import _context
from ._scope._sessions import Session
from .exceptions import ConfigurationError

_METADATA_KEY = "aitracer_metadata"
_WRAP_NAMES = {"openai": "openai", "anthropic": "anthropic", "google_genai": "gemini"}


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
        pii_detection: bool | None = None,
        pii_action: str | None = None,
        pii_types: list[str] | None = None,
        base_url: str | None = None,
        capture_content: bool | None = None,
        *,
        store: str | None = None,
    ) -> None:
        _check({"enabled": enabled, "sync": sync, "flush_on_exit": flush_on_exit}, {"capture_content": capture_content, "pii_detection": pii_detection})
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
        return self._wrap(client, "openai")

    def wrap_anthropic(self, client: Any) -> Any:
        """Trace this ``anthropic`` client instance only: ``messages.create`` and ``messages.stream``."""
        return self._wrap(client, "anthropic")

    def wrap_gemini(self, model_or_client: Any) -> Any:
        """Trace this Gemini object only: a ``google.genai.Client`` (and its ``.aio``) or a legacy ``GenerativeModel``."""
        return self._wrap(model_or_client, "google_genai")

    def _wrap(self, client: Any, sdk: str) -> Any:
        """The SDK's instrumentor, applied to this instance only, with this tracer's scope around each call."""
        if not self.enabled or getattr(client, "_aitracer_wrapped", False):
            return client
        instrumentor = load_instrumentor(sdk)
        if instrumentor is None:
            raise ConfigurationError(f"cannot wrap {type(client).__name__}: the {sdk} SDK or its instrumentor is not installed")
        instrumentor.instrument_client(
            client, tracer_provider=self._provider, capture_content=self._processor.settings.capture_content, call_scope=self._call_scope
        )  # fmt: skip
        if not instrumentor.is_instrumented_client(client):
            raise ConfigurationError(f"wrap_{_WRAP_NAMES[sdk]} takes a {sdk} client, got {type(client).__name__}")
        client._aitracer_wrapped = True
        return client

    def _call_scope(self, kwargs: dict[str, Any]) -> Any:
        """Each wrapped call runs in this tracer's scope, with its ``aitracer_metadata`` (removed from the request)."""
        return self._scope(_pop_metadata(kwargs))

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


def _check(flags: dict[str, Any], optional: dict[str, Any]) -> None:
    """Flags must be booleans; ``optional`` ones may also be None (not given: the environment decides)."""
    for name, value in [*flags.items(), *((n, v) for n, v in optional.items() if v is not None)]:
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
