"""The ASGI application of ``otel-aitracer serve`` (Starlette): OTLP/HTTP traces, the AITracer API, reads.

Every handler reads the body under limits, then does the blocking work (decode,
map, redact, store) on one ingest thread per worker: the work is CPU-bound and
holds the GIL, so more threads in one process only add contention (measured:
215 µs of CPU per span with 8 concurrent requests on the default pool, 105 µs
with one thread); scale with ``--workers`` instead. Bad input is a 4xx with a reason, never
a 5xx; a store that cannot write answers 503 with ``Retry-After``, so senders
keep the data and retry.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence, cast

import anyio
import anyio.to_thread
import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from .._config import resolve_settings
from .._destinations._filters import FILTERS, ORDERS, STATS_ORDERS, Cursor, cursor_text, filter_values, parse_cursor
from .._destinations._open import open_records_db
from .._destinations._retention import Retention, start_pruning
from .._recording._pipeline import RecordPipeline
from .._time import rfc3339
from ..cli._stats import GROUPS, summarize
from ._auth import Grant, Keys
from ._body import BodyError, decode_body, read_body
from ._ingest import STORE_ERRORS, Forbidden, Ingest
from ._logs import log_record_count, logs_response, start_sweeping
from ._otlp import JSON, PROTOBUF, encoded, parse_request, response, span_count, status_body
from ._protocol import publish_balance, release_balances
from ._together import Together

_logger = logging.getLogger(__name__)
_RETRY_AFTER_SECONDS = "5"
# Trace requests waiting for a worker's ingest thread that it stores in one transaction: fewer commits and rollup
# additions (a batch of 512 spans touches hundreds of sessions' sums); more would hold the store's write lock longer.
TRACE_REQUESTS_TOGETHER = 2


_MAX_LIST = 1000  # records in one page of a read
_STREAM_ROWS = 50  # records fetched at a time while a page streams out
_MAX_GROUPS = 1000


@dataclass(frozen=True)
class ServerConfig:
    store: str = "aitracer-server.db"  # a SQLite file, or a postgresql:// DSN
    keys: Keys = Keys({})
    max_body_bytes: int = 16 * 1024 * 1024
    max_decompressed_bytes: int = 64 * 1024 * 1024
    pii_detection: bool | None = None
    grpc_host: str = "127.0.0.1"
    grpc_port: int | None = None  # OTLP/gRPC too when set (4317 by convention)
    read_timeout: float = 15.0  # seconds for a request's headers, and again for its body
    max_records: int = 20_000  # spans or records in one request (413 past it)
    max_connections: int = 1000  # per worker; past it, 503
    retention: Retention = Retention()
    http_port: int | None = None  # the port serve's workers share: each counts its connections there from its start


def create_app(config: ServerConfig) -> Starlette:
    store = open_records_db(config.store, cache_mib=32)
    settings = resolve_settings(store=config.store, pii_detection=config.pii_detection)
    ingest = Ingest(store, RecordPipeline(settings, sink=store))
    api = _Handlers(config, ingest)
    routes = [
        Route("/v1/traces", api.otlp_traces, methods=["POST"]),
        Route("/v1/logs", api.otlp_logs, methods=["POST"]),
        Route("/api/v1/logs/batch/", api.logs_batch, methods=["POST"]),
        Route("/api/v1/logs/", api.log_one, methods=["POST"]),
        Route("/api/v1/logs", api.list_logs, methods=["GET"]),
        Route("/api/v1/traces/{trace_id}", api.get_trace, methods=["GET"]),
        Route("/api/v1/stats", api.stats, methods=["GET"]),
        Route("/api/v1/sessions/", api.session_start, methods=["POST"]),
        Route("/api/v1/sessions/{session_id}/end/", api.session_end, methods=["PATCH"]),
        Route("/api/v1/sessions/{session_id}/feedback/", api.session_feedback, methods=["POST"]),
        Route("/api/v1/sessions/{session_id}/events/", api.session_event, methods=["POST"]),
        Route("/healthz", api.healthz, methods=["GET"]),
    ]
    routes += _ui_routes(config, store)
    if config.keys.open:
        _logger.warning("otel-aitracer serve: no API keys configured; accepting every request (set AITRACER_SERVER_KEYS)")
    return Starlette(routes=routes, lifespan=_worker_lifespan(config, ingest))


def _ui_routes(config: ServerConfig, store: Any) -> list[Any]:
    """The web UI at /ui/, behind the same keys (a browser signs in with one; it sees that key's projects)."""
    try:
        from .. import ui
    except ImportError:  # the ui extra is not installed: no pages, the API as ever
        _logger.info("otel-aitracer serve: no web UI (pip install 'otel-aitracer[ui]')")
        return []

    def gate(request: Request) -> Any:
        if config.keys.open:
            return ui.Access(None, "open server: no API keys")
        key = ui.key_of(request)
        grant = config.keys.grant(f"Bearer {key}") if key else None
        if grant is None:
            return RedirectResponse("/ui/login", 303)
        return ui.Access(None if grant.allows("*") else sorted(grant.projects), "key for " + ("every project" if grant.allows("*") else ", ".join(sorted(grant.projects))))

    return ui.routes(store, gate, login=lambda key: config.keys.grant(f"Bearer {key}") is not None)


def _worker_lifespan(config: ServerConfig, ingest: Ingest) -> Callable[[Starlette], Any]:
    """A worker's start and stop: garbage-collector settings, and the OTLP/gRPC server when asked for."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Everything loaded so far (modules, price tables, detectors) lives as long as the worker:
        # keep it out of the collector's scans, and collect young objects less often (a request
        # allocates thousands), which the benchmark measured at about 7% of ingest CPU.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        server = None
        pruning = start_pruning(config.retention, ingest.store) if config.retention.active else None
        sweeping = start_sweeping(ingest.store, ingest.join)
        if config.http_port is not None:
            publish_balance(config.http_port)  # seen by its siblings before its first connection
        if config.grpc_port is not None:
            from ._grpc import start_grpc

            server = start_grpc(ingest, config.keys, config.grpc_host, config.grpc_port, config.max_decompressed_bytes, config.max_records)
        try:
            yield
        finally:
            sweeping.set()
            if pruning is not None:
                pruning.set()
            if server is not None:
                server.stop(grace=5).wait()
            ingest.pipeline.settle(time.monotonic() + 5)  # queued alerts go out
            release_balances()

    return lifespan


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


class _Handlers:
    def __init__(self, config: ServerConfig, ingest: Ingest) -> None:
        self.config = config
        self.ingest = ingest
        self.store = ingest.store
        self._limiter: anyio.CapacityLimiter | None = None
        self._traces: Together[tuple[bytes, str, Grant], bytes] = Together(self._traces_together, TRACE_REQUESTS_TOGETHER)

    # ---- helpers --------------------------------------------------------------------------------
    async def _ingesting(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run CPU-bound ingest work on this worker's single ingest thread."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(work, *args, limiter=self._limiter)

    def _grant(self, request: Request) -> Grant | None:
        return self.config.keys.grant(request.headers.get("authorization"))

    async def _body(self, request: Request) -> bytes:
        raw = await read_body(request.stream(), request.headers.get("content-length"), self.config.max_body_bytes, self.config.read_timeout)
        return decode_body(raw, request.headers.get("content-encoding"), self.config.max_decompressed_bytes)

    def _check_count(self, count: int, what: str) -> None:
        if count > self.config.max_records:
            raise BodyError(413, f"{count} {what} in one request; at most {self.config.max_records} (send smaller batches)")

    async def _native(self, request: Request, work: Callable[[Any, Grant], Any]) -> Response:
        """Auth, body, JSON, then ``work(document, grant)`` in the thread pool; errors as JSON."""
        grant = self._grant(request)
        if grant is None:
            return _json({"error": "a valid Bearer API key is required"}, 401)
        try:
            body = await self._body(request)
            return await self._ingesting(lambda: work(orjson.loads(body), grant))
        except BodyError as exc:
            return _json({"error": exc.message}, exc.status)
        except orjson.JSONDecodeError as exc:
            return _json({"error": f"body is not JSON: {exc}"}, 400)
        except Forbidden as exc:
            return _json({"error": str(exc)}, 403)
        except STORE_ERRORS:
            _logger.exception("the store could not take a request")
            return _json({"error": "the store is unavailable; retry later"}, 503, {"Retry-After": _RETRY_AFTER_SECONDS})

    # ---- OTLP -----------------------------------------------------------------------------------
    async def otlp_traces(self, request: Request) -> Response:
        return await self._otlp_request(request, self._traces_in_turn)

    async def otlp_logs(self, request: Request) -> Response:
        return await self._otlp_request(request, lambda body, media, grant: self._ingesting(self._otlp_logs, body, media, grant))

    async def _traces_in_turn(self, body: bytes, media: str, grant: Grant) -> bytes:
        """A trace request waits for the ingest thread with the others; the first to get it stores them all."""
        waiting = self._traces.enter((body, media, grant))
        return cast(bytes, await self._ingesting(self._traces.answer, waiting))

    async def _otlp_request(self, request: Request, ingest: Callable[[bytes, str, Grant], Awaitable[bytes]]) -> Response:
        """Auth, body, then ``ingest(body, media, grant)`` -> the response body; errors as OTLP ``Status``."""
        media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media not in (PROTOBUF, JSON):
            return Response(b"unsupported content type: use application/x-protobuf or application/json", 415, media_type="text/plain")

        def error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
            return Response(status_body(code, message, media), status, media_type=media, headers=headers)

        grant = self._grant(request)
        if grant is None:
            return error(401, 16, "a valid Bearer API key is required")
        try:
            body = await self._body(request)
            answer = await ingest(body, media, grant)
        except BodyError as exc:
            return error(exc.status, 3, exc.message)
        except Forbidden as exc:
            return error(403, 7, str(exc))
        except STORE_ERRORS:
            _logger.exception("the store could not take an OTLP request")
            return error(503, 14, "the store is unavailable; retry later", {"Retry-After": _RETRY_AFTER_SECONDS})
        return Response(answer, 200, media_type=media)

    def _traces_together(self, requests: Sequence[tuple[bytes, str, Grant]]) -> list[bytes | BaseException]:
        """Trace requests taken together (on the ingest thread): each parsed and checked alone (a bad body is that
        request's 400), then all stored in one transaction; a store error is every one's."""
        answers: list[bytes | BaseException] = []
        parsed: list[tuple[int, Any, Grant, str]] = []
        for body, media, grant in requests:
            try:
                request = parse_request(body, media)
                self._check_count(span_count(request), "spans")
            except BodyError as exc:
                answers.append(exc)
                continue
            parsed.append((len(answers), request, grant, media))
            answers.append(b"")
        outcomes = self.ingest.otlp_together([(request, grant) for _, request, grant, _ in parsed])
        for (n, _, _, media), outcome in zip(parsed, outcomes):
            answers[n] = outcome if isinstance(outcome, Forbidden) else response(outcome.rejected, outcome.message(), media)
        return answers

    def _otlp_logs(self, body: bytes, media: str, grant: Grant) -> bytes:
        parsed = parse_request(body, media, ExportLogsServiceRequest)
        self._check_count(log_record_count(parsed), "log records")
        outcome = self.ingest.logs(parsed, grant)
        return encoded(logs_response(outcome.rejected, outcome.message()), media)

    # ---- AITracer API ---------------------------------------------------------------------------
    async def logs_batch(self, request: Request) -> Response:
        def work(document: Any, grant: Grant) -> Response:
            if not isinstance(document, dict) or not isinstance(document.get("logs"), list):
                return _json({"error": 'expected {"logs": [record, ...]}'}, 400)
            self._check_count(len(document["logs"]), "records")
            outcome = self.ingest.native(document["logs"], grant)
            body = {"accepted": outcome.accepted, "duplicates": outcome.duplicates, "rejected": outcome.rejected, "errors": outcome.errors}
            return _json(body, 200)

        return await self._native(request, work)

    async def log_one(self, request: Request) -> Response:
        def work(document: Any, grant: Grant) -> Response:
            outcome = self.ingest.native([document], grant)
            if outcome.rejected:
                return _json({"error": outcome.message()}, 400)
            return _json({"accepted": outcome.accepted, "duplicates": outcome.duplicates}, 201)

        return await self._native(request, work)

    async def session_start(self, request: Request) -> Response:
        return await self._session(request, "session_start", None)

    async def session_end(self, request: Request) -> Response:
        return await self._session(request, "session_end", request.path_params["session_id"])

    async def session_feedback(self, request: Request) -> Response:
        return await self._session(request, "feedback", request.path_params["session_id"])

    async def session_event(self, request: Request) -> Response:
        return await self._session(request, "event", request.path_params["session_id"])

    async def _session(self, request: Request, kind: str, session_id: str | None) -> Response:
        def work(document: Any, grant: Grant) -> Response:
            if not isinstance(document, dict):
                return _json({"error": "expected a JSON object"}, 400)
            sid = session_id or document.get("session_id")
            if not isinstance(sid, str) or not sid:
                return _json({"error": "session_id is required"}, 400)
            event = {**document, "type": kind, "session_id": sid}
            event.setdefault("timestamp", rfc3339())
            self.ingest.events([event], grant)
            return _json({"ok": True}, 201 if kind != "session_end" else 200)

        return await self._native(request, work)

    # ---- reads ----------------------------------------------------------------------------------
    def _reader(self, request: Request) -> tuple[list[str] | None, Response | None]:
        """The projects a read may see (None: all), or the error response."""
        grant = self._grant(request)
        if grant is None:
            return None, _json({"error": "a valid Bearer API key is required"}, 401)
        project = request.query_params.get("project")
        if project is not None and not grant.allows(project):
            return None, _json({"error": f"this key may not read project {project!r}"}, 403)
        return None if grant.allows("*") else sorted(grant.projects), None

    async def list_logs(self, request: Request) -> Response:
        """Newest first, a page of at most 1,000 records streamed as stored; ``next`` is the cursor of the next page."""
        projects, refused = self._reader(request)
        if refused is not None:
            return refused
        params = request.query_params
        order = params.get("sort", "time")
        try:
            limit = min(_MAX_LIST, max(1, int(params.get("limit", "100"))))
            after = parse_cursor(params.get("cursor"))
            filter_values({name: params.get(name) for name in FILTERS})  # a bad one is the sender's error, said now
            if order not in ORDERS:
                raise ValueError(f"sort must be one of {', '.join(ORDERS)}, got {order!r}")
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        filters: dict[str, Any] = {name: params.get(name) for name in FILTERS}
        return await self._stream(b'{"logs":[', limit, True, projects, after, filters, b"]", order=order)

    async def get_trace(self, request: Request) -> Response:
        """One trace's records, by its id or at least its first 4 hex digits (those of every trace it starts)."""
        trace_id = request.path_params["trace_id"].lower()
        projects, refused = self._reader(request)
        if refused is not None:
            return refused
        try:
            filter_values({"trace": trace_id})
            after = parse_cursor(request.query_params.get("cursor"))
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        head = b'{"trace_id":' + orjson.dumps(trace_id) + b',"logs":['
        # the same answer whether the trace does not exist or belongs to another project
        missing = _json({"error": f"no trace {trace_id}"}, 404)
        return await self._stream(head, _MAX_LIST, False, projects, after, {"trace": trace_id}, b"]", if_empty=missing)

    async def _stream(self, head: bytes, limit: int, newest_first: bool, projects: list[str] | None, after: Cursor | None,
                      filters: dict[str, Any], tail: bytes, if_empty: Response | None = None, order: str = "time") -> Response:  # fmt: skip
        """Records as stored, fetched ``_STREAM_ROWS`` at a time: a worker holds one slice of a page, never the page.
        The first slice is read before the answer starts, so a store that cannot be read is a 503, not a cut-off body,
        and ``if_empty`` is the answer when there is nothing to send."""

        def fetch(want: int, cursor: Cursor | None) -> tuple[list[bytes], Cursor | None]:
            return self.store.page(want, newest_first, projects, cursor, order, **filters)

        slice_rows = _STREAM_ROWS if order == "time" else limit  # by anomaly: one page, no cursor to go on from
        try:
            first = await run_in_threadpool(fetch, min(slice_rows, limit), after)
        except STORE_ERRORS:
            return _unavailable()
        if if_empty is not None and not first[0]:
            return if_empty

        async def body() -> AsyncIterator[bytes]:
            yield head
            cursor, sent, full = after, 0, False
            ready: tuple[list[bytes], Cursor | None] | None = first
            while sent < limit:
                want = min(slice_rows, limit - sent)
                blobs, last = ready if ready is not None else await run_in_threadpool(fetch, want, cursor)
                ready = None
                for blob in blobs:
                    yield (b"," if sent else b"") + blob
                    sent += 1
                cursor, full = last or cursor, len(blobs) == want
                if not full:
                    break
            yield tail
            more = full and cursor is not None and sent == limit
            yield b',"next":' + (orjson.dumps(cursor_text(cursor)) if more and cursor else b"null") + b"}"

        return StreamingResponse(body(), media_type=JSON)

    async def stats(self, request: Request) -> Response:
        """``otel-aitracer stats`` computed here, by the database: requests, tokens, cost, errors, latency per group."""
        projects, refused = self._reader(request)
        if refused is not None:
            return refused
        by, project = request.query_params.get("by", "project"), request.query_params.get("project")
        if by not in GROUPS:
            return _json({"error": f"by must be one of {', '.join(sorted(GROUPS))}"}, 400)
        order = request.query_params.get("sort", "requests")
        if order not in STATS_ORDERS:
            return _json({"error": f"sort must be one of {', '.join(STATS_ORDERS)}"}, 400)
        try:
            limit = min(_MAX_GROUPS, max(1, int(request.query_params.get("limit", "100"))))
        except ValueError:
            return _json({"error": "limit must be an integer"}, 400)
        try:
            rows = await run_in_threadpool(lambda: summarize(self.store, by, project, projects, limit, order))
        except STORE_ERRORS:
            return _unavailable()
        return _json({"stats": rows})

    async def healthz(self, request: Request) -> Response:
        """Up and able to read its store; nothing about the data (anyone may ask)."""
        try:
            await run_in_threadpool(lambda: self.store.page(1))
        except STORE_ERRORS:
            _logger.exception("healthz: the store cannot be read")
            return _json({"status": "unavailable"}, 503)
        return _json({"status": "ok"})


def _unavailable() -> Response:
    """A read the store cannot serve now: 503 with Retry-After (the reason goes to the log)."""
    _logger.exception("a read could not reach the store")
    return _json({"error": "the store is unavailable; retry later"}, 503, {"Retry-After": _RETRY_AFTER_SECONDS})
