"""A small Gemini API (``generativelanguage`` v1beta) on 127.0.0.1 for the demo and the tests.

Answers as the REST API documents it (camelCase JSON):

- ``POST /v1beta/models/{model}:generateContent``: a ``GenerateContentResponse``;
- ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``: the same split into
  ``data:`` events, the last one carrying ``finishReason`` and ``usageMetadata``
  (without ``alt=sse``, as the legacy ``google-generativeai`` REST transport asks:
  one JSON array streamed element by element);
- ``POST /v1beta/models/{model}:batchEmbedContents``: one embedding per request.

Model ``error-<status>`` answers with a Google error body; ``stream-error`` breaks its
stream after two events; a request with ``tools`` whose last turn is the user's text
gets a ``functionCall`` of the first declared function with the user's text as its first parameter; a ``cachedContent`` request reports cached prompt tokens.
"""

from __future__ import annotations

import json
from typing import Any

from ._fake_http import FakeHandler, FakeServer, tokens

_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class FakeGeminiServer(FakeServer):
    """The fake Gemini API; pass ``base_url`` as ``http_options={"base_url": ...}``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_Handler, host, port)


def _text(content: dict[str, Any]) -> str:
    return " ".join(p.get("text", "") for p in content.get("parts", ()) if isinstance(p, dict))


class _Handler(FakeHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.read_json()
        path = self.path.split("?")[0]
        if "/models/" not in path or ":" not in path:
            return self._error(404, f"Unknown path {self.path}")
        model, method = path.rsplit("/models/", 1)[1].split(":", 1)
        if model.startswith("error-"):
            status = int(model.split("-", 1)[1])
            return self._error(status, f"Fake {status} error.")
        if method == "batchEmbedContents":
            embeddings = [{"values": [round(0.001 * i, 3) for i in range(8)]} for _ in body.get("requests", ())]
            return self.send_json(200, {"embeddings": embeddings})
        response = self._response(model, body)
        if method == "streamGenerateContent":
            return self._stream(model, response, sse="alt=sse" in self.path)
        self.send_json(200, response)

    def _response(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        contents = body.get("contents") or []
        last = contents[-1] if contents else {}
        system = body.get("systemInstruction") or {}
        prompt = tokens(_text(system)) + sum(tokens(_text(c)) for c in contents) if system or contents else 1
        if body.get("tools") and any("text" in p for p in last.get("parts", ())):
            declaration = body["tools"][0]["functionDeclarations"][0]
            schema = declaration.get("parameters") or declaration.get("parametersJsonSchema") or declaration.get("parameters_json_schema") or {}
            first = next(iter(schema.get("properties") or {}), "location")
            parts: list[dict[str, Any]] = [{"functionCall": {"name": declaration["name"], "args": {first: _text(last)}}}]
        else:
            parts = [{"text": f"Here is a short answer to \"{_text(last)[:60]}\": it depends, but the usual choice works."}]
        output = sum(tokens(p.get("text") or json.dumps(p.get("functionCall"))) for p in parts)
        usage: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": output, "totalTokenCount": prompt + output}
        if body.get("cachedContent"):
            usage["cachedContentTokenCount"] = prompt // 2
        return {
            "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": f"resp-fake{self.server_state.next_number():06d}",
        }

    def _stream(self, model: str, response: dict[str, Any], sse: bool) -> None:
        parts = response["candidates"][0]["content"]["parts"]
        events = []
        if "text" in parts[0]:
            words = parts[0]["text"].split(" ")
            pieces = [" ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)]
            for piece in pieces:
                events.append({"candidates": [{"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}], "modelVersion": model, "responseId": response["responseId"]})
        else:
            events.append({"candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0}], "modelVersion": model, "responseId": response["responseId"]})
        events[-1] = {**events[-1], "usageMetadata": response["usageMetadata"]}
        events[-1]["candidates"][0]["finishReason"] = "STOP"
        if model == "stream-error":
            events = events[:2] + [{"error": {"code": 500, "message": "Internal error while streaming.", "status": "INTERNAL"}}]
        if sse:
            return self.send_events(f"data: {json.dumps(e)}\r\n\r\n".encode() for e in events)
        # Without alt=sse (the legacy REST transport): one JSON array, streamed element by element.
        last = len(events) - 1
        self.send_events((b"[" if i == 0 else b"") + json.dumps(e).encode() + (b"]" if i == last else b",\r\n") for i, e in enumerate(events))

    def _error(self, status: int, message: str) -> None:
        self.send_json(status, {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}})
