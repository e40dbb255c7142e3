"""A small OpenAI-compatible HTTP server on 127.0.0.1 for the demo and the tests.

It answers ``POST /v1/chat/completions`` (and ``/v1/responses``, ``/v1/embeddings``:
``_openai_responses``) the way the OpenAI API documents it:
a ``chat.completion`` JSON body, or ``chat.completion.chunk`` server-sent events
ending in ``data: [DONE]`` (with a usage chunk when
``stream_options.include_usage`` is set). The requested model picks special
behaviours so failures can be shown without a network:

- ``error-<status>`` (e.g. ``error-429``, ``error-500``): an OpenAI error body with that status;
- ``stream-error``: a stream that sends two chunks, then an error event;
- ``stall-<ms>`` (e.g. ``stall-400``): waits that long, then answers one word (a stalled call);
- ``response_format`` ``json_object`` or ``json_schema``: the answer is a JSON object (prose otherwise, whatever the
  prompt asks: a model that ignores "answer in JSON");
- a request with ``tools`` whose last message is from the user: a ``tool_calls`` answer calling the first
  tool with the user's text as its first parameter.
"""

from __future__ import annotations

import json
import time
from typing import Any

from . import _openai_responses as responses_api
from ._fake_http import FakeHandler, FakeServer, tokens

# Dated snapshots the API answers with for the aliases people request.
_SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
}
_ERRORS = {
    400: ("invalid_request_error", "invalid_value", "Invalid value for 'messages'."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _reply_to(messages: list[dict[str, Any]]) -> str:
    last = _text_of(messages[-1]) if messages else ""
    if messages and messages[-1].get("role") == "tool":
        return f"According to the tool: {last}."
    return f"Here is a short answer to \"{last[:60]}\": it depends on your context, but the usual choice works well."


class FakeOpenAIServer(FakeServer):
    """The fake OpenAI API; use as a context manager. ``base_url`` ends in ``/v1``."""

    path_prefix = "/v1"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_Handler, host, port)

    def next_id(self) -> str:
        return f"chatcmpl-fake{self.next_number():06d}"


class _Handler(FakeHandler):
    server_state: FakeOpenAIServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.read_json()
        endpoint = self.path.split("?")[0].rsplit("/v1", 1)[-1]
        if endpoint not in ("/chat/completions", "/responses", "/embeddings"):
            return self._error(404, "invalid_request_error", None, f"Unknown path {self.path}")
        model = str(body.get("model", ""))
        if model.startswith("error-"):
            status = int(model.split("-", 1)[1])
            kind, code, message = _ERRORS.get(status, ("server_error", None, "Unexpected error."))
            return self._error(status, kind, code, message)
        if endpoint == "/embeddings":
            return self._json(200, responses_api.embeddings(body))
        if endpoint == "/responses":
            full = responses_api.response(body, self.server_state.next_number())
            if body.get("stream"):
                return self.send_events(responses_api.response_events(full, fail_midway=model == "stream-error"))
            return self._json(200, full)
        if body.get("stream"):
            return self._stream(body)
        return self._json(200, self._completion(body))

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        message, finish = self._answer(body)
        n = int(body.get("n") or 1)
        return {
            "id": self.server_state.next_id(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": _SNAPSHOTS.get(body["model"], body["model"]),
            "choices": [
                {"index": i, "message": message, "logprobs": None, "finish_reason": finish} for i in range(n)
            ],
            "usage": self._usage(body, messages, message.get("content") or json.dumps(message.get("tool_calls")), n),
            "service_tier": "default",
            "system_fingerprint": "fp_fake01",
        }

    def _answer(self, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        messages = body.get("messages") or []
        tools = body.get("tools") or []
        if tools and messages and messages[-1].get("role") == "user":
            function = tools[0]["function"]
            properties = list((function.get("parameters") or {}).get("properties") or {}) or ["query"]
            arguments = json.dumps({properties[0]: _text_of(messages[-1])})
            call = {"id": "call_fake001", "type": "function", "function": {"name": function["name"], "arguments": arguments}}
            return {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}, "tool_calls"
        model = str(body.get("model", ""))
        if model.startswith("stall-"):
            time.sleep(int(model.split("-", 1)[1]) / 1000)
            return {"role": "assistant", "content": "Hm.", "refusal": None}, "stop"
        if (body.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
            answer = json.dumps({"answer": _text_of(messages[-1])[:60] if messages else ""})
            return {"role": "assistant", "content": answer, "refusal": None}, "stop"
        return {"role": "assistant", "content": _reply_to(messages), "refusal": None}, "stop"

    @staticmethod
    def _usage(body: dict[str, Any], messages: list[dict[str, Any]], answer: str, n: int) -> dict[str, Any]:
        prompt = sum(tokens(_text_of(m)) + 4 for m in messages) + 3
        cached = (prompt // 2) if body.get("prompt_cache_key") else 0
        completion = tokens(answer) * n
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }

    def _stream(self, body: dict[str, Any]) -> None:
        full = self._completion(body)
        message, finish = full["choices"][0]["message"], full["choices"][0]["finish_reason"]
        base = {k: full[k] for k in ("id", "created", "model", "service_tier", "system_fingerprint")}
        base["object"] = "chat.completion.chunk"
        events: list[dict[str, Any]] = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
        if message.get("tool_calls"):
            call = message["tool_calls"][0]
            args = call["function"]["arguments"]
            events.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}]}, "finish_reason": None}]})
            for i in range(0, len(args), 8):
                events.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args[i : i + 8]}}]}, "finish_reason": None}]})
        else:
            words = (message["content"] or "").split(" ")
            for i, word in enumerate(words):
                events.append({**base, "choices": [{"index": 0, "delta": {"content": word if i == 0 else " " + word}, "finish_reason": None}]})
        if body.get("model") == "stream-error":
            events = events[:3] + [{"error": {"message": "The server had an error while streaming.", "type": "server_error", "code": None}}]
        else:
            events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                events.append({**base, "choices": [], "usage": full["usage"]})
        self.send_events([f"data: {json.dumps(event)}\n\n".encode() for event in events] + [b"data: [DONE]\n\n"])

    def _error(self, status: int, kind: str, code: str | None, message: str) -> None:
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self.send_json(status, payload, {"Retry-After": "1"} if status == 429 else None)
