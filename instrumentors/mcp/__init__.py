"""OpenTelemetry instrumentation for the ``mcp`` SDK's client sessions, per the GenAI/MCP conventions.

``mcp`` 2.x traces itself: a CLIENT span per request (``MCP send tools/call get_weather``), the W3C
trace context in the request's ``params._meta``, and a SERVER span per request in the server joining
that trace. This instrumentor owns nothing the SDK already does; it makes the client span what the
conventions say (name ``{mcp.method.name} {target}``, ``gen_ai.operation.name = execute_tool`` and
``gen_ai.tool.name`` for ``tools/call``, ``mcp.protocol.version``, ``mcp.session.id`` where the
transport has one, and a failed status when the tool reports ``isError``), and when a framework's
tool span is already current around the call, it puts those attributes on that span instead of
nesting a second tool span under it.

``mcp`` 1.x makes no spans of its own: for it, :mod:`._v1` makes the client and server spans and
carries the trace context in ``params._meta`` as 2.x does.
"""

from __future__ import annotations

import contextvars
import importlib.util
from contextlib import contextmanager
from typing import Any, Collection, Iterator

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap

from .._genai import enrich
from . import _v1
from ._conventions import TOOL_ERROR, fail, is_tool_span, request_span

_DISPATCHER = "mcp.shared.jsonrpc_dispatcher"  # 2.x: where the SDK's span helper lives (1.x has none)
_SESSION = "mcp.client.session"
_SERVER = "mcp.server.lowlevel.server"
_SEND_PREFIX = "MCP send "
# The client session a request is being sent for: its protocol version and session id reach the span.
_current_session: contextvars.ContextVar[Any] = contextvars.ContextVar("otel_mcp_session", default=None)
# The tools/call spans of the request being sent: ended by the session once it has read the result
# (the SDK would end them before, and a tool's ``isError`` is in the result).
_tool_spans: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("otel_mcp_tool_spans", default=None)


class MCPInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Conventions for the ``mcp`` SDK's own client spans, applied when (or if) the app imports ``mcp``."""

    _package = "mcp"  # the distribution
    _sdk_modules = ("mcp",)

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    @classmethod
    def sdk_modules(cls) -> tuple[str, ...]:
        return cls._sdk_modules

    def _instrument(self, **kwargs: Any) -> None:
        self._active = True
        self._patched: list[tuple[Any, str]] = []
        self._tracer = trace.get_tracer(__name__, tracer_provider=kwargs.get("tracer_provider"))
        wrapt.register_post_import_hook(self._dispatcher_imported, _DISPATCHER)
        wrapt.register_post_import_hook(self._session_imported, _SESSION)
        wrapt.register_post_import_hook(self._server_imported, _SERVER)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._active = False
        for owner, name in reversed(self._patched):
            unwrap(owner, name)
        self._patched.clear()

    def _wrap(self, owner: Any, name: str, wrapper: Any) -> None:
        wrapt.wrap_function_wrapper(owner, name, wrapper)
        self._patched.append((owner, name))

    def _dispatcher_imported(self, module: Any) -> None:
        if self._active and hasattr(module, "otel_span"):
            self._wrap(module, "otel_span", _conventional_client_span)

    def _session_imported(self, module: Any) -> None:
        session = getattr(module, "ClientSession", None)
        if not self._active or session is None or not hasattr(session, "send_request"):
            return
        self._wrap(session, "send_request", _with_session if _traces_itself() else _v1.client_request(self._tracer))

    def _server_imported(self, module: Any) -> None:
        server = getattr(module, "Server", None)
        if not self._active or _traces_itself() or server is None or not hasattr(server, "_handle_request"):
            return
        self._wrap(server, "_handle_request", _v1.server_request(self._tracer))
        import mcp.shared.session as shared

        self._wrap(shared.RequestResponder, "respond", _v1.server_respond)


def _traces_itself() -> bool:
    """Whether the installed ``mcp`` makes its own spans (2.x), found without importing more of it."""
    return importlib.util.find_spec(_DISPATCHER) is not None


async def _with_session(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    spans: list[Any] = []
    tokens = (_current_session.set(instance), _tool_spans.set(spans))
    try:
        result = await wrapped(*args, **kwargs)
        if getattr(result, "is_error", None) is True:
            for span in spans:
                fail(span, TOOL_ERROR)
        return result
    finally:
        _current_session.reset(tokens[0])
        _tool_spans.reset(tokens[1])
        for span in spans:
            span.end()


def _conventional_client_span(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """The SDK's span helper: a client request span gets the conventions' name and attributes, or is the
    framework's tool span already current."""
    name = args[0] if args else kwargs.get("name", "")
    attributes = dict(kwargs.get("attributes") or {})
    method = attributes.get("mcp.method.name")
    if kwargs.get("kind") != trace.SpanKind.CLIENT or not isinstance(method, str) or not str(name).startswith(_SEND_PREFIX):
        return wrapped(*args, **kwargs)
    target = str(name)[len(_SEND_PREFIX) + len(method) :].strip() or None
    name, conventional = request_span(method, target)
    attributes.update(conventional)
    attributes.update(_session_attributes())
    outer = trace.get_current_span()
    if method == "tools/call" and is_tool_span(outer, target):
        return _enriched(outer, attributes)
    spans = _tool_spans.get()
    if method == "tools/call" and spans is not None:
        return _ended_by_session(name, attributes, spans)
    kwargs = {**kwargs, "attributes": attributes}
    return wrapped(name, *args[1:], **{k: v for k, v in kwargs.items() if k != "name"})


@contextmanager
def _ended_by_session(name: str, attributes: dict[str, Any], spans: list[Any]) -> Iterator[Any]:
    """The SDK's client span for a tool call, started as the SDK would, but left for the session to end."""
    tracer = trace.get_tracer("mcp-python-sdk")  # the SDK's own scope
    with tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes, end_on_exit=False) as span:
        spans.append(span)
        yield span


def _session_attributes() -> dict[str, Any]:
    session = _current_session.get()
    if session is None:
        return {}
    found: dict[str, Any] = {}
    version = getattr(session, "protocol_version", None)
    if isinstance(version, str):
        found["mcp.protocol.version"] = version
    session_id = getattr(session, "session_id", None)
    if isinstance(session_id, str) and session_id:
        found["mcp.session.id"] = session_id
    return found


@contextmanager
def _enriched(span: Any, attributes: dict[str, Any]) -> Iterator[Any]:
    """The outer tool span, with the MCP request's attributes, standing in for a nested one (not ended here)."""
    enrich(span, attributes)
    yield span
