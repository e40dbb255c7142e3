"""The AITracer API as a destination (SPEC §4): spool first, then send, so nothing is lost.

``write()`` (on the pipeline's worker, never the application's thread) turns a
batch into a gzip request and puts it in the durable :class:`Spool`; a sender
thread sends spooled requests oldest first and deletes each one only when the
API acknowledges it. A retryable failure (``_retry``) leaves the request in place, due
again after its own backoff; when the API answered the request before it (it is up),
the sender goes on with the next one, else it pauses with backoff (an outage). A request
the API keeps failing on while taking others (:data:`POISON_STRIKES` times) is set aside
and counted, so it never blocks the rest. A 413 splits the batch in halves;
other answers are final and counted as ``rejected``; 401/403 keep the data and
report a configuration problem. Session events take the endpoints the AITracer
SDK uses: ``POST /api/v1/sessions/`` (start), ``PATCH /api/v1/sessions/{id}/end/``,
``POST /api/v1/sessions/{id}/feedback/`` and ``POST /api/v1/sessions/{id}/events/``.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
import uuid
from typing import Any, Callable, Sequence
from urllib.parse import quote

import httpx
import orjson
from opentelemetry.instrumentation.utils import suppress_http_instrumentation, suppress_instrumentation

from .._config import safe_text, safe_url
from .._fork import at_fork_reinit, new_lock
from .._guard import guarded
from .._lifecycle import EXIT_BUDGET_SECONDS, exit_deadline
from . import _retry
from ._spool import Entry, Spool

_logger = logging.getLogger(__name__)
_SENDER = guarded("sender")  # the sender thread survives anything

BATCH_PATH = "/api/v1/logs/batch/"
_SESSIONS = "/api/v1/sessions/"
_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_UNAUTHORIZED_PAUSE = 60.0
_IDLE_POLL = 1.0
_EXPIRY_EVERY = 10.0
_LEASED_ELSEWHERE_POLL = 0.05
POISON_STRIKES = 3  # failures of one request, each after the API took another, before it is set aside
MAX_REQUEST_BYTES = 64 * 1024 * 1024  # uncompressed; the OTLP spec's client limit, which servers expect too


class HTTPSink:
    """Spools and sends records and session events to the AITracer API.

    ``count(reason, n)`` receives ``sent``, ``rejected``, ``set_aside``, ``ttl_expired``,
    ``spool_full`` and ``unauthorized`` (the pipeline's :class:`Stats`).
    """

    def __init__(self, base_url: str, api_key: str | None, spool: Spool, count: Callable[[str, int], None], sync: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        self._printable_url = safe_url(self.base_url)
        self.spool = spool
        self.last_error: str | None = None
        self._count = count
        self._sync = sync
        self._headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        if api_key:  # an in-cluster serve may run without keys
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._start()
        at_fork_reinit(self._start)

    def _start(self) -> None:
        self._client = httpx.Client(timeout=_TIMEOUT)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._paused_until = 0.0
        self._next_expiry = 0.0
        self._failures = 0  # in a row, across requests
        self._delivered = 0  # requests the API took, in this process
        self._strikes: dict[int, int] = {}  # request id -> failures, each after the API took another request
        self._failed_at: dict[int, int] = {}  # request id -> ``_delivered`` at its last failure
        self._due_at = 0.0  # monotonic time the soonest deferred request is due again
        self._send_lock = new_lock()
        self._thread = threading.Thread(target=self._run, name="otel-aitracer-sender", daemon=True)
        self._thread.start()

    # ---- what the pipeline calls ------------------------------------------------------------------
    def write(self, records: Sequence[dict[str, Any]]) -> None:
        """Spool the batch as requests of at most ``MAX_REQUEST_BYTES`` before compression (the OTLP client rule)."""
        body = orjson.dumps({"logs": list(records)})
        if len(body) > MAX_REQUEST_BYTES and len(records) > 1:
            middle = len(records) // 2
            self.write(records[:middle])
            self.write(records[middle:])
            return
        self._put("POST", BATCH_PATH, body, len(records))

    def write_events(self, events: Sequence[dict[str, Any]]) -> None:
        for event in events:
            method, path = _event_endpoint(event)
            self._put(method, path, {k: v for k, v in event.items() if k != "type"}, 1)

    def flush(self, timeout: float) -> bool:
        """Send what is spooled; False if some is still there when ``timeout`` runs out."""
        deadline = time.monotonic() + timeout
        while self.spool.pending()[0]:
            remaining = deadline - time.monotonic()
            pause = self._paused_until - time.monotonic()
            if remaining <= 0 or pause >= remaining:
                return False
            if pause > 0:
                time.sleep(pause)  # the backoff ends within the budget: wait it out
            elif self._send_lock.acquire(timeout=remaining):  # the sender may have a request in flight
                try:
                    leased_nothing = self._send_until(deadline)
                finally:
                    self._send_lock.release()
                if leased_nothing:  # what is left is being sent by another process sharing the spool
                    time.sleep(min(_LEASED_ELSEWHERE_POLL, max(0.0, deadline - time.monotonic())))
            else:
                return False
        return True

    def close(self, deadline: float | None = None) -> None:
        """Send until ``deadline`` (``time.monotonic()``; default: the exit budget); what is left stays spooled."""
        if deadline is None:
            deadline = exit_deadline(EXIT_BUDGET_SECONDS)
        self._stop.set()
        self._wake.set()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        self.flush(max(0.0, deadline - time.monotonic()))
        self._client.close()
        self.spool.close()

    # ---- spooling ---------------------------------------------------------------------------------
    def _put(self, method: str, path: str, body: Any, items: int) -> None:
        payload = gzip.compress(body if isinstance(body, bytes) else orjson.dumps(body), compresslevel=5)
        if not self.spool.put(method, path, payload, items, uuid.uuid4().hex):
            self._count("spool_full", items)
            return
        if self._sync:
            self._send_some(time.monotonic() + _read_timeout())
        else:
            self._wake.set()

    # ---- sending ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._next_wait())
            self._wake.clear()
            if self._stop.is_set() or time.monotonic() < self._paused_until:
                continue
            with _SENDER:
                if time.monotonic() >= self._next_expiry:  # a scan of the spool: not on every wake-up
                    self._next_expiry = time.monotonic() + _EXPIRY_EVERY
                    expired = self.spool.expire()
                    if expired:
                        self._count("ttl_expired", expired)
                self._send_some(None)

    def _next_wait(self) -> float:
        """Until the pause ends, else until the soonest deferred request is due, at most ``_IDLE_POLL``."""
        now = time.monotonic()
        if self._paused_until > now:
            return self._paused_until - now
        return min(_IDLE_POLL, self._due_at - now) if self._due_at > now else _IDLE_POLL

    def _send_some(self, deadline: float | None) -> None:
        with self._send_lock:
            self._send_until(deadline)

    def _send_until(self, deadline: float | None) -> bool:
        """Send spooled requests oldest first until none is left, one fails for now, or the deadline passes;
        True when there was nothing this process could lease."""
        while (deadline is None or time.monotonic() < deadline) and time.monotonic() >= self._paused_until:
            entry = self.spool.lease()
            if entry is None:
                return True
            if not self._send(entry, deadline):
                return False
        return False

    def _send(self, entry: Entry, deadline: float | None = None) -> bool:
        """One attempt, within ``deadline`` if one is given; True when the request is done with (sent, split or rejected)."""
        headers = {**self._headers, "Idempotency-Key": entry.key}
        timeout = _TIMEOUT if deadline is None else httpx.Timeout(max(0.05, min(_read_timeout(), deadline - time.monotonic())))
        try:
            with suppress_instrumentation(), suppress_http_instrumentation():  # our request is not the app's span
                response = self._client.request(entry.method, self.base_url + entry.path, content=entry.body, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            return self._retry_later(entry, f"cannot reach {self._printable_url}: {type(exc).__name__} {safe_text(str(exc), self.base_url)}", None)
        status = response.status_code
        if 200 <= status < 300:
            self.spool.ack(entry)
            refused = _refused_in(response, entry)
            self._count("sent", entry.items - refused)
            if refused:
                self._count("rejected", refused)
            self._failures, self.last_error = 0, None
            self._delivered += 1
            self._forget(entry)
            return True
        if status in _retry.RETRYABLE_STATUS:
            return self._answered_retry_later(entry, status, response.headers.get("Retry-After"))
        if status in _retry.UNAUTHORIZED_STATUS:
            self.spool.release(entry)
            self._count("unauthorized", entry.items)
            self._pause(_UNAUTHORIZED_PAUSE, f"{status}: the API key was refused; records are kept in the spool")
            return False
        if status == _retry.TOO_LARGE_STATUS and entry.items > 1 and entry.path == BATCH_PATH:
            self.spool.replace(entry, _halves(entry))
            return True
        self.spool.ack(entry)
        self._count("rejected", entry.items)
        _logger.warning("AITracer API rejected %d items with %d: %s", entry.items, status, response.text[:200])
        return True

    def _answered_retry_later(self, entry: Entry, status: int, retry_after: str | None) -> bool:
        """The API answered "not now" to this request: it waits its own backoff; if the API took the request
        before it, the sender goes on with the next; a request refused like this while others pass is set aside."""
        if self._strike(entry) >= POISON_STRIKES:
            self.spool.put_aside(entry)
            self._count("set_aside", entry.items)
            self._forget(entry)
            _logger.warning("otel-aitracer: %s kept answering %d to one request (%d items) while taking others; set aside in the "
                            "spool's set_aside table", self._printable_url, status, entry.items)  # fmt: skip
            return True
        self._failures += 1
        defer = _retry.wait_before_retry(entry.attempts + 1, retry_after)
        self.spool.release(entry, defer)
        due, now = time.monotonic() + defer, time.monotonic()
        self._due_at = min(self._due_at, due) if self._due_at > now else due
        if self._failures == 1:
            return True
        self._pause(_retry.wait_before_retry(self._failures, retry_after), f"{status} from {entry.path}")
        return False

    def _strike(self, entry: Entry) -> int:
        """Count a failure of ``entry`` as a strike when the API took another request since its last failure."""
        if self._failed_at.get(entry.id, self._delivered) < self._delivered:
            self._strikes[entry.id] = self._strikes.get(entry.id, 0) + 1
        self._failed_at[entry.id] = self._delivered
        return self._strikes.get(entry.id, 0)

    def _forget(self, entry: Entry) -> None:
        self._strikes.pop(entry.id, None)
        self._failed_at.pop(entry.id, None)

    def _retry_later(self, entry: Entry, error: str, retry_after: str | None) -> bool:
        self.spool.release(entry)
        self._failures += 1
        self._pause(_retry.wait_before_retry(self._failures, retry_after), error)
        return False

    def _pause(self, seconds: float, error: str) -> None:
        self._paused_until = time.monotonic() + seconds
        if error != self.last_error:
            _logger.warning("otel-aitracer: %s; sending again in %.1f s", error, seconds)
        self.last_error = error


def _refused_in(response: httpx.Response, entry: Entry) -> int:
    """Records of an accepted batch the API refused one by one (``{"rejected": n}``, as serve answers)."""
    if entry.path != BATCH_PATH:
        return 0
    try:
        rejected = orjson.loads(response.content).get("rejected")
    except (orjson.JSONDecodeError, AttributeError):
        return 0
    return min(entry.items, rejected) if isinstance(rejected, int) and rejected > 0 else 0


def _read_timeout() -> float:
    return _TIMEOUT.read if _TIMEOUT.read is not None else 10.0


def _halves(entry: Entry) -> list[tuple[bytes, int, str]]:
    logs = orjson.loads(gzip.decompress(entry.body))["logs"]
    middle = len(logs) // 2
    return [(gzip.compress(orjson.dumps({"logs": part})), len(part), uuid.uuid4().hex) for part in (logs[:middle], logs[middle:])]


def _event_endpoint(event: dict[str, Any]) -> tuple[str, str]:
    kind, session = event["type"], quote(event["session_id"], safe="")
    if kind == "session_start":
        return "POST", _SESSIONS
    if kind == "session_end":
        return "PATCH", f"{_SESSIONS}{session}/end/"
    return "POST", f"{_SESSIONS}{session}/{'feedback' if kind == 'feedback' else 'events'}/"
