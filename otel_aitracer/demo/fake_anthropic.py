"""A small Anthropic Messages API on 127.0.0.1 for the demo and the tests.

``POST /v1/messages`` answers as the API documents it: a ``message`` JSON body,
or the server-sent event sequence ``message_start``, ``content_block_start``,
``ping``, ``content_block_delta``…, ``content_block_stop``, ``message_delta``
(stop reason and cumulative output tokens), ``message_stop``. Special behaviours:

- model ``error-<status>``: an Anthropic error body with that status;
- model ``stream-error``: a stream that breaks with an ``error`` event after a few deltas;
- a request with ``tools`` whose last message is from the user: a ``tool_use`` answer;
- a ``cache_control`` block in ``system``: usage reports the system prompt as cache reads.
"""

from __future__ import annotations

import json
from typing import Any

from ._fake_http import FakeHandler, FakeServer, tokens

_SNAPSHOTS = {"claude-sonnet-4-6": "claude-sonnet-4-6", "claude-haiku-4-5": "claude-haiku-4-5-20251001"}
_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class FakeAnthropicServer(FakeServer):
    """The fake Anthropic API; ``base_url`` is what ``anthropic.Anthropic(base_url=...)`` takes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_Handler, host, port)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content or () if isinstance(b, dict) and b.get("type") == "text")


class _Handler(FakeHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.read_json()
        if not self.path.startswith("/v1/messages"):
            return self._error(404, "not_found_error", f"Unknown path {self.path}")
        model = str(body.get("model", ""))
        if model.startswith("error-"):
            status = int(model.split("-", 1)[1])
            return self._error(status, _ERRORS.get(status, "api_error"), f"Fake {status} error.")
        message = self._message(body)
        if body.get("stream"):
            return self._stream(body, message)
        self.send_json(200, message)

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        system = body.get("system")
        cached = tokens(_text(system)) if isinstance(system, list) and any("cache_control" in b for b in system) else 0
        prompt = tokens(_text(system) if system else "") + sum(tokens(_text(m.get("content"))) for m in messages)
        if body.get("tools") and last.get("role") == "user" and isinstance(last.get("content"), str):
            tool = body["tools"][0]
            content = [
                {"type": "text", "text": "Let me look that up."},
                {"type": "tool_use", "id": f"toolu_fake{self.server_state.next_number():06d}", "name": tool["name"], "input": {"location": "Paris"}},
            ]
            stop = "tool_use"
        else:
            answer = f"Here is a short answer to \"{_text(last.get('content'))[:60]}\": it depends, but the usual choice works."
            content, stop = [{"type": "text", "text": answer}], "end_turn"
        output = sum(tokens(json.dumps(b.get("input")) if b["type"] == "tool_use" else b["text"]) for b in content)
        model = str(body.get("model", ""))
        return {
            "id": f"msg_fake{self.server_state.next_number():06d}",
            "type": "message",
            "role": "assistant",
            "model": _SNAPSHOTS.get(model, model),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": prompt - cached,
                "output_tokens": output,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": cached,
                "service_tier": "standard",
            },
        }

    def _stream(self, body: dict[str, Any], message: dict[str, Any]) -> None:
        usage = message["usage"]
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}))
                if index == 0:
                    events.append(("ping", {"type": "ping"}))
                words = block["text"].split(" ")
                for i, word in enumerate(words):
                    delta = {"type": "text_delta", "text": word if i == 0 else " " + word}
                    events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
            else:
                events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}}))
                arguments = json.dumps(block["input"])
                for i in range(0, len(arguments), 8):
                    delta = {"type": "input_json_delta", "partial_json": arguments[i : i + 8]}
                    events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        if body.get("model") == "stream-error":
            events = events[:5] + [("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})]
        else:
            delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
            events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": {"output_tokens": usage["output_tokens"]}}))
            events.append(("message_stop", {"type": "message_stop"}))
        self.send_events(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)

    def _error(self, status: int, kind: str, message: str) -> None:
        self.send_json(status, {"type": "error", "error": {"type": kind, "message": message}}, {"request-id": "req_fake"})
