"""Recorded provider traffic replayed through the real provider SDKs over real HTTP on 127.0.0.1: a server
answers each request with the next recorded response, and each recorded request is made again through the
SDK with the same arguments.

The recordings are the VCR cassettes of real exchanges with OpenAI, Anthropic and Gemini that the OpenTelemetry
project ships in the ``tests/`` of its instrumentations' source distributions on PyPI (Apache License 2.0,
The OpenTelemetry Authors). They are not copied into this repository: :func:`cassettes` downloads the pinned
source distributions with pip (from the index pip is configured with) into ``.cache/recorded`` once, and reads
them there.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import yaml

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "recorded"
SOURCES = {  # provider -> the source distribution whose tests hold its recordings
    "openai": "opentelemetry-instrumentation-genai-openai==1.3b0",
    "anthropic": "opentelemetry-instrumentation-genai-anthropic==1.3b0",
    "google_genai": "opentelemetry-instrumentation-google-genai==1.3b0",
}
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}


@dataclass
class Exchange:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # of the request, lower-case names
    body: Any
    status: int
    response_headers: dict[str, str]
    response: str
    source: str = ""  # the cassette's name (it says which SDK method made the request)

    @property
    def answer(self) -> Any:
        """The recorded response as JSON (None for a stream or a non-JSON body)."""
        try:
            return json.loads(self.response)
        except ValueError:
            return None

    @property
    def streamed(self) -> bool:
        return bool((self.body or {}).get("stream")) or self.query.get("stream") == "true" or "stream" in self.path.lower()


def cassettes(provider: str) -> list[Path]:
    """The recorded exchanges of ``provider``'s official instrumentation, fetched once (a failure says why)."""
    target = CACHE / provider
    if not (target / ".complete").exists():
        _download(SOURCES[provider], target)
    return sorted(target.glob("*.yaml"))


def _download(requirement: str, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", requirement, "-d", tmp],
                       check=True, timeout=300)  # fmt: skip
        [archive] = Path(tmp).glob("*.tar.gz")
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = Path(member.name)
                if member.isfile() and (name.suffix == ".yaml" and "cassettes" in name.parts or name.name == "LICENSE"):
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    (target / name.name).write_bytes(extracted.read())
    (target / ".complete").write_text(requirement)


def exchanges(path: Path) -> list[Exchange]:
    loaded = yaml.safe_load(path.read_text())
    found = []
    for item in loaded["interactions"]:
        request, response = item["request"], item["response"]
        url = urlsplit(request["uri"])
        body = request.get("body")
        found.append(Exchange(
            method=request["method"], path=url.path, query={k: v[0] for k, v in parse_qs(url.query).items()},
            headers={k.lower(): (v[0] if isinstance(v, list) else v) for k, v in (request.get("headers") or {}).items()},
            body=json.loads(body) if body else None, status=response["status"]["code"],
            response_headers={k.lower(): (v[0] if isinstance(v, list) else v) for k, v in (response.get("headers") or {}).items()},
            response=response["body"]["string"], source=path.stem,
        ))  # fmt: skip
    return found


class ReplayServer:
    """Answers the n-th request with the n-th recorded response (each exchange is replayed by exactly one call)."""

    def __init__(self) -> None:
        self.queue: list[Exchange] = []
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                server.requests.append((self.command, self.path))
                exchange = server.queue.pop(0) if server.queue else None
                if exchange is None:
                    self.send_response(500)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                data = exchange.response.encode()
                self.send_response(exchange.status)
                for name, value in exchange.response_headers.items():
                    if name not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _split(method: Callable[..., Any], body: dict[str, Any]) -> dict[str, Any]:
    """The recorded body as keyword arguments of ``method``; what it does not name goes in ``extra_body``."""
    named = set(inspect.signature(method).parameters)
    kwargs = {k: v for k, v in body.items() if k in named}
    extra = {k: v for k, v in body.items() if k not in named}
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def call_openai(client: Any, exchange: Exchange) -> Any:
    body = dict(exchange.body or {})
    if exchange.path.endswith("/chat/completions"):
        return client.chat.completions.create(**_split(client.chat.completions.create, body))
    if exchange.path.endswith("/embeddings"):
        return client.embeddings.create(**_split(client.embeddings.create, body))
    if exchange.path.endswith("/responses"):
        return client.responses.create(**_split(client.responses.create, body))
    match = re.search(r"/responses/([^/]+)$", exchange.path)
    if match and exchange.method == "GET":
        query = {k: (v == "true" if v in ("true", "false") else v) for k, v in exchange.query.items()}
        return client.responses.retrieve(match.group(1), **query)
    raise NotImplementedError(exchange.path)


def call_anthropic(client: Any, exchange: Exchange) -> Any:
    """``messages.create`` (``parse`` where the recording was made by it), on the beta client for a request it
    made (``?beta=true``)."""
    messages = client.beta.messages if exchange.query.get("beta") == "true" else client.messages
    method = messages.parse if "parse" in exchange.source and not exchange.streamed else messages.create
    return method(**_split(method, dict(exchange.body or {})))


def call_anthropic_helper(client: Any, exchange: Exchange) -> Any:
    """A streamed exchange made again through ``messages.stream()``, the SDK's helper, read to its end."""
    body = {k: v for k, v in (exchange.body or {}).items() if k != "stream"}
    messages = client.beta.messages if exchange.query.get("beta") == "true" else client.messages
    with messages.stream(**_split(messages.stream, body)) as stream:
        stream.until_done()


_CONFIG_KEYS = {"systemInstruction": "system_instruction", "tools": "tools", "toolConfig": "tool_config", "safetySettings": "safety_settings",
                "cachedContent": "cached_content", "labels": "labels"}  # fmt: skip


def call_gemini(client: Any, exchange: Exchange) -> Any:
    body = dict(exchange.body or {})
    model = re.search(r"models/([^:/]+)", exchange.path)
    if ":batchEmbedContents" in exchange.path:
        requests = body["requests"]
        config = {k: v for k, v in requests[0].items() if k not in ("model", "content")}
        return client.models.embed_content(model=model.group(1), contents=[r["content"] for r in requests], config=config or None)  # type: ignore[union-attr]
    if ":generateContent" in exchange.path or ":streamGenerateContent" in exchange.path:
        config = dict(body.get("generationConfig") or {})
        config.update({ours: body[theirs] for theirs, ours in _CONFIG_KEYS.items() if theirs in body})
        method = client.models.generate_content_stream if "stream" in exchange.path.lower() else client.models.generate_content
        return method(model=model.group(1), contents=body["contents"], config=config or None)  # type: ignore[union-attr]
    if exchange.path.endswith("/interactions") and exchange.method == "POST":
        return client.interactions.create(**body)
    match = re.search(r"/interactions/([^/:]+)$", exchange.path)
    if match and exchange.method == "GET":
        return client.interactions.get(match.group(1), **{k: (v == "true" if v in ("true", "false") else v) for k, v in exchange.query.items()})
    raise NotImplementedError(exchange.path)


def consume(result: Any) -> None:
    """Read a streamed answer to its end, as an app would."""
    if hasattr(result, "__iter__") and not isinstance(result, (dict, list, str, bytes)) and hasattr(result, "__next__"):
        for _ in result:
            pass
    elif hasattr(result, "__iter__") and type(result).__name__.endswith("Stream"):
        for _ in result:
            pass
