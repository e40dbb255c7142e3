"""A bounded queue drained in batches by one background thread.

``put`` is the only thing the application's thread pays for: a length check
and a deque append. The worker wakes when a batch is full, on a timer, or when
asked to flush; after ``fork()`` the child starts with an empty queue and a
worker of its own.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable, Generic, TypeVar

from .._fork import at_fork_reinit
from .._guard import guarded

T = TypeVar("T")
_logger = logging.getLogger(__name__)
_WORKER = guarded("worker")

_DEFAULT_MAX_QUEUE_SIZE = 4096
_DEFAULT_MAX_BATCH_SIZE = 256
_DEFAULT_SCHEDULE_DELAY = 1.0


class BatchWorker(Generic[T]):
    """Calls ``handle(batch)`` on a named daemon thread for everything ``put``."""

    def __init__(
        self,
        handle: Callable[[list[T]], object],
        on_drop: Callable[[str, int], None],
        max_queue_size: int = _DEFAULT_MAX_QUEUE_SIZE,
        max_batch_size: int = _DEFAULT_MAX_BATCH_SIZE,
        schedule_delay: float = _DEFAULT_SCHEDULE_DELAY,
        name: str = "otel-aitracer-export",
    ) -> None:
        self._handle = handle
        self._on_drop = on_drop
        self._max_queue_size = max_queue_size
        self._max_batch_size = max_batch_size
        self._delay = schedule_delay
        self._name = name
        self._start()
        at_fork_reinit(self._start)

    def _start(self) -> None:
        self._queue: deque[T] = deque()
        self._flush_requests: deque[threading.Event] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        if self._stopping:
            self._on_drop("shutdown", 1)
        elif len(self._queue) >= self._max_queue_size:
            self._on_drop("queue_full", 1)
        else:
            self._queue.append(item)
            if len(self._queue) >= self._max_batch_size:
                self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything put before this call is handled; False on timeout."""
        if not self._thread.is_alive():
            return not self._queue
        done = threading.Event()
        self._flush_requests.append(done)
        self._wake.set()
        return done.wait(timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Handle what is queued (within ``timeout``), then stop; later puts are dropped."""
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        if self._queue:
            self._on_drop("shutdown", len(self._queue))
            self._queue.clear()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            # Take the flush requests before draining, so each is answered only
            # by a drain that began after it was made.
            requests = [self._flush_requests.popleft() for _ in range(len(self._flush_requests))]
            self._drain()
            for request in requests:
                request.set()
            if self._stopping:
                return

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            batch = [queue.popleft() for _ in range(min(self._max_batch_size, len(queue)))]
            with _WORKER:  # the worker survives anything
                self._handle(batch)
