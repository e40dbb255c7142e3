"""What a record says, as text: the instructions it gave (system and last user message) and the answer."""

from __future__ import annotations

from typing import Any


def prompt_text(record: dict[str, Any]) -> str:
    """The system messages and the last user message: what the answer is asked to be (earlier turns may have
    asked for something else)."""
    value = record.get("input")
    if isinstance(value, str):
        return value
    messages = value.get("messages") if isinstance(value, dict) else value  # log()'s input_data: the messages themselves
    if not isinstance(messages, list):
        return ""
    system = [_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") in ("system", "developer")]
    users = [_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return "\n".join(system + users[-1:])


def output_text(record: dict[str, Any]) -> str | None:
    """The answer's text; None where there is none to judge (a tool call, content not captured, no output)."""
    value = record.get("output")
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or value.get("redacted"):
        return None
    if isinstance(value.get("choices"), list) and value["choices"]:
        value = value["choices"][0] if isinstance(value["choices"][0], dict) else {}
    content = value.get("content")
    text = _text(content) if content is not None else None
    return text if text and text.strip() else None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p if isinstance(p, str) else str(p.get("text") or p.get("content") or "") for p in content if isinstance(p, (str, dict)))
    return ""
