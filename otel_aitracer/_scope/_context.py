"""Session, user, project, metadata and tags that apply to the spans started inside a block.

They live in a :class:`contextvars.ContextVar`, so they follow asyncio tasks and
``contextvars.copy_context()`` into threads, and never leak between concurrent
requests. :class:`AITracerSpanProcessor` stamps them onto every span at
``on_start``; the mapping reads them back from the span, so spans that arrive
through a collector carry the same information.
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Mapping

import orjson
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.semconv._incubating.attributes.session_attributes import SESSION_ID
from opentelemetry.semconv._incubating.attributes.user_attributes import USER_ID
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from .._attributes import METADATA_ATTRIBUTE, PROJECT_ATTRIBUTE, TAGS_ATTRIBUTE
from .._fork import new_lock
from ._current import current_pipeline
from ._sessions import Deliver, Session

_global_metadata: dict[str, Any] = {}
_global_lock = new_lock()
# Bumped by every process-wide set_metadata() so scopes rebuild their cached attributes.
_global_version = [0]


class _Run:
    """One run's step counter and the name given to its next step; shared by the run's nested scopes."""

    __slots__ = ("run_id", "_next", "_pending", "_lock")

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._next = 0
        self._pending: str | None = None
        self._lock = new_lock()

    def name_next(self, name: str) -> None:
        with self._lock:
            self._pending = name

    def take_step(self) -> tuple[int, str]:
        """The next step's index (0, 1, 2… in call order) and name (given by ``step()``, else ``step_<n>``)."""
        with self._lock:
            index, name, self._pending = self._next, self._pending, None
            self._next += 1
        return index, name or f"step_{index + 1}"


@dataclass
class _Scope:
    session_id: str | None = None
    user_id: str | None = None
    project: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    run: _Run | None = None
    session_handle: Session | None = None
    _attributes: dict[str, Any] | None = None
    _version: int = -1

    def child(self, **changes: Any) -> _Scope:
        return replace(self, metadata=dict(self.metadata), tags=list(self.tags), _attributes=None, **changes)

    def attributes(self) -> dict[str, Any]:
        """The span attributes this scope stands for, built once per change."""
        if self._attributes is None or self._version != _global_version[0]:
            self._version = _global_version[0]
            attrs: dict[str, Any] = {}
            if self.session_id:
                attrs[SESSION_ID] = self.session_id
            if self.user_id:
                attrs[USER_ID] = self.user_id
            if self.project:
                attrs[PROJECT_ATTRIBUTE] = self.project
            metadata = {**_global_metadata, **self.metadata}
            if metadata:
                attrs[METADATA_ATTRIBUTE] = orjson.dumps(metadata, default=str).decode()
            if self.tags:
                attrs[TAGS_ATTRIBUTE] = tuple(self.tags)
            self._attributes = attrs
        return self._attributes


_ROOT = _Scope()
_scope: ContextVar[_Scope] = ContextVar("otel_aitracer_scope", default=_ROOT)


def current_attributes() -> dict[str, Any]:
    """What the processor stamps on a span started now (cheap: cached per scope)."""
    return _scope.get().attributes()


def current_run() -> _Run | None:
    return _scope.get().run


def current_project() -> str | None:
    return _scope.get().project


def current_session() -> Session | None:
    return _scope.get().session_handle


@contextmanager
def user(user_id: str) -> Iterator[str]:
    """Name the app user of the calls made inside the block, without a session."""
    with _enter(_scope.get().child(user_id=str(user_id))):
        yield user_id


@contextmanager
def _enter(scope: _Scope) -> Iterator[_Scope]:
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


@contextmanager
def session(
    session_id: str,
    user_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    *,
    deliver: Deliver | None = None,
    project: str | None = None,
) -> Iterator[Session]:
    """Group the calls made inside the block under one session (and end user).

    The :class:`Session` it yields takes feedback on the session's last response.
    Its start, end and feedback go to ``deliver`` (by default the pipeline
    ``register()`` set up, if any), filed under ``project`` (by default the current one).
    """
    parent = _scope.get()
    if deliver is None:
        deliver = _registered_delivery()
    user = str(user_id) if user_id is not None else parent.user_id
    handle = Session(str(session_id), user, metadata, project or parent.project, deliver)
    scope = parent.child(session_id=handle.session_id, user_id=handle.user_id, session_handle=handle)
    scope.metadata.update(metadata or {})
    handle._started()
    try:
        with _enter(scope):
            yield handle
    finally:
        handle._ended()


def _registered_delivery() -> Deliver | None:
    pipeline = current_pipeline()
    return pipeline.processor.submit_session_event if pipeline is not None else None


@contextmanager
def project(name: str) -> Iterator[str]:
    """Record the calls made inside the block to project ``name``."""
    with _enter(_scope.get().child(project=str(name))):
        yield name


def set_metadata(metadata: Mapping[str, Any]) -> None:
    """Add metadata to every later call: in the innermost block, or process-wide outside any."""
    scope = _scope.get()
    if scope is _ROOT:
        with _global_lock:
            _global_metadata.update(metadata)
            _global_version[0] += 1
    else:
        scope.metadata.update(metadata)
        scope._attributes = None


class Trace:
    """The handle ``trace()`` yields: adds metadata and tags to the calls made after."""

    def __init__(self, span: otel_trace.Span, scope: _Scope) -> None:
        self._span = span
        self._scope = scope
        self.trace_id = format(span.get_span_context().trace_id, "032x")

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        self._scope.metadata.update(metadata)
        self._scope._attributes = None

    def add_tag(self, tag: str) -> None:
        if tag not in self._scope.tags:
            self._scope.tags.append(str(tag))
            self._scope._attributes = None


def _trace_id_from(value: str) -> int:
    """A 32-hex id is used as is; any other string maps to a stable id of its own."""
    try:
        if len(value) == 32 and int(value, 16):
            return int(value, 16)
    except ValueError:
        pass
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:16], "big") or 1


@contextmanager
def trace(trace_id: str | None = None, name: str | None = None, *, tracer_provider: Any = None) -> Iterator[Trace]:
    """Run the block in one trace: a span named ``name``, with the given trace id if any."""
    ctx = otel_context.get_current()
    if trace_id is not None or not otel_trace.get_current_span(ctx).get_span_context().is_valid:
        # An explicit id, or a fresh trace when nothing is current, even without an SDK.
        wanted = _trace_id_from(str(trace_id)) if trace_id is not None else secrets.randbits(128) or 1
        parent = SpanContext(wanted, secrets.randbits(64) or 1, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        ctx = otel_trace.set_span_in_context(NonRecordingSpan(parent), ctx)
    if tracer_provider is None and (pipeline := current_pipeline()) is not None:
        tracer_provider = pipeline.tracer_provider
    tracer = otel_trace.get_tracer("otel_aitracer", tracer_provider=tracer_provider)
    scope = _scope.get().child()
    with _enter(scope), tracer.start_as_current_span(name or "trace", context=ctx) as span:
        yield Trace(span, scope)


class Run:
    """The handle ``run()`` yields: its ``run_id`` (the trace id of its calls) and ``step()``."""

    def __init__(self, state: _Run) -> None:
        self._state = state
        self.run_id = state.run_id

    def step(self, name: str) -> None:
        """Name the run's next LLM call."""
        self._state.name_next(str(name))


@contextmanager
def run(name: str | None = None, *, tracer_provider: Any = None) -> Iterator[Run]:
    """A fresh run: its own trace id; every LLM call inside is a step numbered 0, 1, 2… in call order.

    Runs never share an id or a counter, across threads and asyncio tasks alike.
    """
    with trace(secrets.token_hex(16), name=name or "run", tracer_provider=tracer_provider) as handle:
        state = _Run(handle.trace_id)
        with _enter(_scope.get().child(run=state)):
            yield Run(state)


def step(name: str) -> None:
    """Name the next LLM call of the current run (no effect outside a run)."""
    state = _scope.get().run
    if state is not None:
        state.name_next(str(name))
