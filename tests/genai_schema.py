"""The GenAI conventions' content schemas (semantic-conventions-genai, ``model/gen-ai/gen-ai-{input,output}-messages.json``
and ``gen-ai-system-instructions.json``), reduced to their constraints (descriptions and titles left out), and a
check that picks each part's definition by its ``type``, as a strict reader does: a ``file`` part must be a
FilePart, not merely some GenericPart."""

from __future__ import annotations

from typing import Any

import jsonschema

_TEXT_OR_NULL = {"anyOf": [{"type": "string"}, {"type": "null"}]}
_MODALITY = {"anyOf": [{"enum": ["image", "video", "audio", "document"]}, {"type": "string"}]}
FINISH_REASONS = ["stop", "length", "content_filter", "tool_call", "compaction", "error"]
ROLES = ["system", "user", "assistant", "tool"]


def _part(type_: str, required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["type", *required], "properties": {"type": {"const": type_}, **properties}}


PARTS: dict[str, dict[str, Any]] = {
    "text": _part("text", ["content"], content={"type": "string"}),
    "tool_call": _part("tool_call", ["name"], id=_TEXT_OR_NULL, name={"type": "string"}),
    "tool_call_response": _part("tool_call_response", ["response"], id=_TEXT_OR_NULL),
    "server_tool_call": _part("server_tool_call", ["name", "server_tool_call"], id=_TEXT_OR_NULL, name={"type": "string"},
                              server_tool_call={"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}),
    "server_tool_call_response": _part("server_tool_call_response", ["server_tool_call_response"], id=_TEXT_OR_NULL,
                                       server_tool_call_response={"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}),
    "blob": _part("blob", ["modality", "content"], mime_type=_TEXT_OR_NULL, modality=_MODALITY, content={"type": "string"}),
    "file": _part("file", ["modality", "file_id"], mime_type=_TEXT_OR_NULL, modality=_MODALITY, file_id={"type": "string"}),
    "uri": _part("uri", ["modality", "uri"], mime_type=_TEXT_OR_NULL, modality=_MODALITY, uri={"type": "string"}),
    "reasoning": _part("reasoning", ["content"], content={"type": "string"}),
    "compaction": _part("compaction", [], id=_TEXT_OR_NULL, content=_TEXT_OR_NULL),
}  # fmt: skip
_GENERIC = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}
_MESSAGE = {"type": "object", "required": ["role", "parts"],
            "properties": {"role": {"anyOf": [{"enum": ROLES}, {"type": "string"}]}, "parts": {"type": "array"}, "name": _TEXT_OR_NULL}}  # fmt: skip
_OUTPUT_MESSAGE = {**_MESSAGE, "properties": {**_MESSAGE["properties"], "finish_reason": {"anyOf": [{"enum": FINISH_REASONS}, {"type": "null"}]}}}


def problems(kind: str, value: Any) -> list[str]:
    """What breaks the schema in ``value`` (parsed JSON of ``gen_ai.{kind}``): kind is input.messages,
    output.messages or system_instructions. Empty when it conforms."""
    found: list[str] = []
    if not isinstance(value, list):
        return [f"{kind}: not a list"]
    if kind == "system_instructions":
        return [f"{kind}[{i}]: {p}" for i, part in enumerate(value) for p in _part_problems(part)]
    for i, message in enumerate(value):
        schema = _OUTPUT_MESSAGE if kind == "output.messages" else _MESSAGE
        found += [f"{kind}[{i}]: {e.message}" for e in jsonschema.Draft202012Validator(schema).iter_errors(message)]
        for j, part in enumerate(message.get("parts") or [] if isinstance(message, dict) else []):
            found += [f"{kind}[{i}].parts[{j}]: {p}" for p in _part_problems(part)]
    return found


def _part_problems(part: Any) -> list[str]:
    schema = PARTS.get(part.get("type")) if isinstance(part, dict) else None
    return [f"{part.get('type') if isinstance(part, dict) else part!r}: {e.message}"
            for e in jsonschema.Draft202012Validator(schema or _GENERIC).iter_errors(part)]  # fmt: skip
