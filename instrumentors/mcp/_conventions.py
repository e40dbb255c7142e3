"""What the GenAI/MCP conventions say a request's span is, whichever SDK version makes it."""

from __future__ import annotations

from typing import Any

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import Status, StatusCode

EXECUTE_TOOL = GenAI.GenAiOperationNameValues.EXECUTE_TOOL.value
TOOL_ERROR = "tool_error"  # the error.type of a tool call whose result says isError


def request_span(method: str, target: str | None) -> tuple[str, dict[str, Any]]:
    """The span name ``{mcp.method.name} {target}`` and its attributes (a tool call is ``execute_tool``)."""
    attributes: dict[str, Any] = {"mcp.method.name": method}
    if method == "tools/call":
        attributes[GenAI.GEN_AI_OPERATION_NAME] = EXECUTE_TOOL
        if target:
            attributes[GenAI.GEN_AI_TOOL_NAME] = target
    return (f"{method} {target}" if target else method), attributes


def is_tool_span(span: Any, target: str | None) -> bool:
    """A recording ``execute_tool`` span of another instrumentation, for this tool (or for no named one)."""
    attributes = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes or attributes.get(GenAI.GEN_AI_OPERATION_NAME) != EXECUTE_TOOL:
        return False
    tool = attributes.get(GenAI.GEN_AI_TOOL_NAME)
    return tool is None or tool == target


def fail(span: Any, error_type: str, message: str | None = None) -> None:
    """The request failed: ``error_type`` (a JSON-RPC error code, or :data:`TOOL_ERROR`) and an error status."""
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, message))
