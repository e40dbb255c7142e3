"""Spans for ``mcp`` 1.x, which makes none of its own: what 2.x does, made here.

A CLIENT span per request the client session sends (``{mcp.method.name} {target}``), its trace
context added to the request's ``params._meta``; a SERVER span per request the low-level server
handles, continuing the trace found there, failed when the response is an error or a tool's
``isError`` result. An outer framework tool span stands in for the client's tool span.
"""

from __future__ import annotations

import contextvars
import weakref
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Tracer

from .._genai import enrich
from ._conventions import TOOL_ERROR, fail, is_tool_span, request_span

_PROTOCOL_VERSION = "mcp.protocol.version"
_REQUEST_ID = "jsonrpc.request.id"
_versions: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()  # client session -> negotiated version
_server_span: contextvars.ContextVar[Any] = contextvars.ContextVar("otel_mcp_server_span", default=None)


def client_request(tracer: Tracer) -> Any:
    """``BaseSession.send_request`` of a client session: the request's span, its context sent along."""

    async def send_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs.get("request")
        root = getattr(request, "root", None)
        method = getattr(root, "method", None)
        if not isinstance(method, str):
            return await wrapped(*args, **kwargs)
        name, attributes = request_span(method, _target(getattr(root, "params", None)))
        if instance in _versions:
            attributes[_PROTOCOL_VERSION] = _versions[instance]
        outer = trace.get_current_span()
        owned = not (method == "tools/call" and is_tool_span(outer, attributes.get("gen_ai.tool.name")))
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes) if owned else outer
        if not owned:
            enrich(span, attributes)
        ctx = trace.set_span_in_context(span)
        args, kwargs = _replace_request(args, kwargs, _with_context(request, ctx))
        token = otel_context.attach(ctx)
        try:
            result = await wrapped(*args, **kwargs)
            _after(instance, span, method, result)
            return result
        except Exception as error:  # McpError carries the JSON-RPC error code: the conventions' error.type
            fail(span, str(getattr(getattr(error, "error", None), "code", "") or type(error).__qualname__), str(error))
            raise
        finally:
            otel_context.detach(token)
            if owned:
                span.end()

    return send_request


def _after(session: Any, span: Any, method: str, result: Any) -> None:
    if method == "initialize" and isinstance(getattr(result, "protocolVersion", None), str):
        _versions[session] = result.protocolVersion
    if getattr(result, "isError", None) is True:
        fail(span, TOOL_ERROR, None)


def server_request(tracer: Tracer) -> Any:
    """``Server._handle_request``: the request's SERVER span, in the client's trace."""

    async def handle_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        message, request, session = (list(args) + [kwargs.get(k) for k in ("message", "req", "session")[len(args) :]])[:3]
        method = getattr(request, "method", None)
        if not isinstance(method, str):
            return await wrapped(*args, **kwargs)
        name, attributes = request_span(method, _target(getattr(request, "params", None)))
        attributes[_REQUEST_ID] = str(getattr(message, "request_id", ""))
        version = getattr(getattr(session, "client_params", None), "protocolVersion", None)
        if isinstance(version, str):
            attributes[_PROTOCOL_VERSION] = version
        parent = propagate.extract(_carrier(getattr(message, "request_meta", None)))
        with tracer.start_as_current_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes) as span:
            token = _server_span.set(span)
            try:
                return await wrapped(*args, **kwargs)
            finally:
                _server_span.reset(token)

    return handle_request


async def server_respond(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """``RequestResponder.respond``: an error response, or a tool's ``isError`` result, fails the server span."""
    span = _server_span.get()
    response = args[0] if args else kwargs.get("response")
    if span is not None:
        code = getattr(response, "code", None)
        if isinstance(code, int) and hasattr(response, "message"):  # ErrorData
            fail(span, str(code), str(response.message))
        elif getattr(getattr(response, "root", response), "isError", None) is True:
            fail(span, TOOL_ERROR, None)
    return await wrapped(*args, **kwargs)


def _target(params: Any) -> str | None:
    """What the request is about: a tool's or prompt's name, a resource's URI."""
    for key in ("name", "uri"):
        value = getattr(params, key, None)
        if value is not None:
            return str(value)
    return None


def _carrier(meta: Any) -> dict[str, str]:
    if meta is None:
        return {}
    fields = meta.model_dump(by_alias=True, exclude_none=True) if hasattr(meta, "model_dump") else dict(meta)
    return {k: v for k, v in fields.items() if isinstance(v, str)}


def _with_context(request: Any, ctx: otel_context.Context) -> Any:
    """The request with the trace context in ``params._meta`` (what the app put there kept)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=ctx)
    if not carrier:
        return request
    root = request.root
    data = root.model_dump(by_alias=True, exclude_none=True)
    meta = data.setdefault("params", {}).setdefault("_meta", {})
    for key, value in carrier.items():
        meta.setdefault(key, value)
    return type(request)(type(root).model_validate(data))


def _replace_request(args: Any, kwargs: Any, request: Any) -> tuple[Any, Any]:
    if args:
        return (request, *args[1:]), kwargs
    return args, {**kwargs, "request": request}
