"""OpenTelemetry instrumentation for the ``mcp`` SDK's client sessions, per the GenAI/MCP conventions.

``mcp`` 2.x traces itself: a CLIENT span per request (``MCP send tools/call get_weather``), the W3C
trace context in the request's ``params._meta``, and a SERVER span per request in the server joining
that trace. This instrumentor owns nothing the SDK already does; it makes the client span what the
conventions say (name ``{mcp.method.name} {target}``, ``gen_ai.operation.name = execute_tool`` and
``gen_ai.tool.name`` for ``tools/call``, ``mcp.protocol.version``, ``mcp.session.id`` where the
transport has one, and a failed status when the tool reports ``isError``), and when a framework's
tool span is already current around the call, it puts those attributes on that span instead of
nesting a second tool span under it.

``mcp`` 1.x (no spans of its own) is not instrumented yet: a log line says so.
"""

from __future__ import annotations

import contextvars
import logging
from contextlib import contextmanager
from importlib import metadata
from typing import Any, Collection, Iterator

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import StatusCode

_logger = logging.getLogger(__name__)
_DISPATCHER = "mcp.shared.jsonrpc_dispatcher"
_SESSION = "mcp.client.session"
_SEND_PREFIX = "MCP send "
_EXECUTE_TOOL = GenAI.GenAiOperationNameValues.EXECUTE_TOOL.value
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
        wrapt.register_post_import_hook(self._dispatcher_imported, _DISPATCHER)
        wrapt.register_post_import_hook(self._session_imported, _SESSION)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._active = False
        for owner, name in reversed(self._patched):
            unwrap(owner, name)
        self._patched.clear()

    def _dispatcher_imported(self, module: Any) -> None:
        if not self._active:
            return
        if not hasattr(module, "otel_span"):
            _logger.info("mcp %s makes no spans of its own; MCPInstrumentor does not instrument it yet", _version())
            return
        wrapt.wrap_function_wrapper(module, "otel_span", _conventional_client_span)
        self._patched.append((module, "otel_span"))

    def _session_imported(self, module: Any) -> None:
        session = getattr(module, "ClientSession", None)
        if self._active and session is not None and hasattr(session, "send_request"):
            wrapt.wrap_function_wrapper(session, "send_request", _with_session)
            self._patched.append((session, "send_request"))


async def _with_session(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    spans: list[Any] = []
    tokens = (_current_session.set(instance), _tool_spans.set(spans))
    try:
        result = await wrapped(*args, **kwargs)
        if getattr(result, "is_error", None) is True:
            for span in spans:
                span.set_attribute("error.type", "tool_error")
                span.set_status(StatusCode.ERROR)
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
    attributes.update(_session_attributes())
    if method == "tools/call":
        attributes[GenAI.GEN_AI_OPERATION_NAME] = _EXECUTE_TOOL
        if target:
            attributes[GenAI.GEN_AI_TOOL_NAME] = target
        outer = trace.get_current_span()
        if _is_tool_span(outer, target):
            return _enriched(outer, attributes)
    name = f"{method} {target}" if target else method
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


def _is_tool_span(span: Any, target: str | None) -> bool:
    """A recording ``execute_tool`` span of another instrumentation, for this tool (or for no named one)."""
    attributes = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes or attributes.get(GenAI.GEN_AI_OPERATION_NAME) != _EXECUTE_TOOL:
        return False
    tool = attributes.get(GenAI.GEN_AI_TOOL_NAME)
    return tool is None or tool == target


@contextmanager
def _enriched(span: Any, attributes: dict[str, Any]) -> Iterator[Any]:
    """The outer tool span, with the MCP request's attributes, standing in for a nested one (not ended here)."""
    span.set_attributes({k: v for k, v in attributes.items() if k not in (span.attributes or {})})
    yield span


def _version() -> str:
    try:
        return metadata.version("mcp")
    except metadata.PackageNotFoundError:
        return "?"
