"""The fake OpenAI API's Responses and Embeddings endpoints, shaped on the API reference."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

from ._fake_http import tokens


def _input_text(body: dict[str, Any]) -> str:
    items = body.get("input")
    if isinstance(items, str):
        return items
    texts = []
    for item in items or ():
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(c.get("text", "") for c in content if isinstance(c, dict))
        elif isinstance(item, dict) and item.get("type") == "function_call_output":
            texts.append(str(item.get("output")))
    return " ".join(texts)


def response(body: dict[str, Any], number: int) -> dict[str, Any]:
    """A completed ``response`` object: a function call when tools are offered to a user turn, else text."""
    text = _input_text(body)
    items = body.get("input")
    last_is_user = isinstance(items, str) or (items and isinstance(items[-1], dict) and items[-1].get("type", "message") == "message")
    if body.get("tools") and last_is_user:
        tool = body["tools"][0]
        # The tool's first parameter gets the question, as the chat endpoint does, so any tool schema validates.
        param = next(iter((tool.get("parameters") or {}).get("properties") or {"location": None}))
        output: list[dict[str, Any]] = [
            {"type": "function_call", "id": f"fc_fake{number:06d}", "call_id": f"call_fake{number:06d}", "name": tool["name"], "arguments": json.dumps({param: "Paris" if param == "location" else text}), "status": "completed"}
        ]
        produced = output[0]["arguments"]
    else:
        produced = f"Here is a short answer to \"{text[:60]}\": it depends, but the usual choice works."
        output = [{"type": "message", "id": f"msg_fake{number:06d}", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": produced, "annotations": []}]}]
    prompt = tokens(text + str(body.get("instructions") or ""))
    model = str(body.get("model", ""))
    return {
        "id": f"resp_fake{number:06d}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": {"gpt-4.1-mini": "gpt-4.1-mini-2025-04-14", "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}.get(model, model),
        "instructions": body.get("instructions"),
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": body.get("tools") or [],
        "text": {"format": {"type": "text"}},
        "service_tier": "default",
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": tokens(produced),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + tokens(produced),
        },
    }


def response_events(full: dict[str, Any], fail_midway: bool) -> Iterator[bytes]:
    """``response.created`` … ``response.output_text.delta`` … ``response.completed`` as SSE."""
    seq = iter(range(10_000))
    started = {**full, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [{"type": "response.created", "response": started}, {"type": "response.in_progress", "response": started}]
    for index, item in enumerate(full["output"]):
        if item["type"] == "message":
            empty = {**item, "status": "in_progress", "content": []}
            events.append({"type": "response.output_item.added", "output_index": index, "item": empty})
            text = item["content"][0]["text"]
            events.append({"type": "response.content_part.added", "item_id": item["id"], "output_index": index, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})
            for i, word in enumerate(text.split(" ")):
                delta = word if i == 0 else " " + word
                events.append({"type": "response.output_text.delta", "item_id": item["id"], "output_index": index, "content_index": 0, "delta": delta, "logprobs": []})
            events.append({"type": "response.output_text.done", "item_id": item["id"], "output_index": index, "content_index": 0, "text": text, "logprobs": []})
        else:
            events.append({"type": "response.output_item.added", "output_index": index, "item": {**item, "arguments": "", "status": "in_progress"}})
            events.append({"type": "response.function_call_arguments.done", "item_id": item["id"], "output_index": index, "arguments": item["arguments"], "name": item["name"]})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    if fail_midway:
        events = events[:5] + [{"type": "error", "code": "server_error", "message": "The server had an error while streaming.", "param": None}]
    else:
        events.append({"type": "response.completed", "response": full})
    for event in events:
        event["sequence_number"] = next(seq)
        yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def embeddings(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input")
    texts = [inputs] if isinstance(inputs, str) else list(inputs or ())
    size = int(body.get("dimensions") or 8)
    data = [{"object": "embedding", "index": i, "embedding": [round(0.001 * (i + j), 4) for j in range(size)]} for i in range(len(texts))]
    used = sum(tokens(str(t)) for t in texts)
    return {"object": "list", "data": data, "model": body.get("model"), "usage": {"prompt_tokens": used, "total_tokens": used}}
