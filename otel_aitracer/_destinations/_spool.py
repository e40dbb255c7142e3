"""The durable spool: requests for the AITracer API wait here until the API acknowledges them.

A SQLite file (WAL): a request is one row, written in one transaction, so a
process killed with SIGKILL leaves whole rows or none; a row is deleted only
after a 2xx. Rows are sent oldest first; a row that failed waits its own backoff while
younger rows go, and one the API keeps refusing while it takes the rest is *set aside*
(kept in its own table until the TTL, never sent again, never blocking). A sender *leases* a row before sending
it, so several processes sharing the file (gunicorn workers) do not send the
same row at once; a lease left by a dead process expires and the row is sent
again, at once if that process is gone (at-least-once: records carry their
``span_id`` for the receiver to drop duplicates). Bounded by bytes and by age. Bodies are stored as they go on the
wire: gzip of already-redacted JSON.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .. import environment_variables as env
from .._config import default_spool_dir, env_bool, env_number
from .._files import private_dir, private_file
from .._fork import new_lock
from .._guard import warn_once

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    body BLOB NOT NULL, size INTEGER NOT NULL, items INTEGER NOT NULL, key TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, lease_until REAL NOT NULL DEFAULT 0, owner INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_order ON requests (created_at, id);
CREATE TABLE IF NOT EXISTS set_aside (
    id INTEGER PRIMARY KEY, created_at REAL NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    body BLOB NOT NULL, size INTEGER NOT NULL, items INTEGER NOT NULL, key TEXT NOT NULL, attempts INTEGER NOT NULL
);
"""
LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class Entry:
    """One spooled request."""

    id: int
    created_at: float
    method: str
    path: str
    body: bytes
    items: int
    key: str
    attempts: int


class Spool:
    """A bounded, crash-safe FIFO of requests; safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int, ttl_seconds: float, fsync: bool = False) -> None:
        self.path = str(path)
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._fsync = fsync
        self._lock = new_lock(hold_across_fork=True)  # no thread is inside SQLite at a fork
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._bytes: int | None = None  # cached total, refreshed from the file now and then
        self._connection()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # never reuse a connection across fork()
            if self.path != ":memory:":
                private_dir(Path(self.path).parent, must_own=True)
                private_file(Path(self.path), refuse_symlink=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if self._fsync else 'NORMAL'}")
            conn.executescript(_SCHEMA)
            self._conn, self._pid, self._bytes = conn, os.getpid(), None
            self._free_dead_leases(conn)
        return self._conn

    @staticmethod
    def _free_dead_leases(conn: sqlite3.Connection) -> None:
        """Rows leased by a process that no longer exists (killed mid-send) are sent again now."""
        owners = [row[0] for row in conn.execute("SELECT DISTINCT owner FROM requests WHERE lease_until > 0")]
        dead = [owner for owner in owners if owner != os.getpid() and not _alive(owner)]
        conn.executemany("UPDATE requests SET lease_until = 0 WHERE owner = ?", [(owner,) for owner in dead])

    def put(self, method: str, path: str, body: bytes, items: int, key: str, created_at: float | None = None) -> bool:
        """Append a request; False (nothing written) when the spool is at its size cap."""
        with self._lock:
            conn = self._connection()
            if self._total_bytes(conn) + len(body) > self.max_bytes:
                return False
            conn.execute(
                "INSERT INTO requests (created_at, method, path, body, size, items, key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.time() if created_at is None else created_at, method, path, body, len(body), items, key),
            )
            self._bytes = (self._bytes or 0) + len(body)
            return True

    def lease(self) -> Entry | None:
        """The oldest request nobody is sending, now leased to this process for ``LEASE_SECONDS``."""
        now = time.time()
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT id, created_at, method, path, body, items, key, attempts FROM requests"
                    " WHERE lease_until < ? ORDER BY created_at, id LIMIT 1",
                    (now,),
                ).fetchone()
                if row is not None:
                    conn.execute("UPDATE requests SET lease_until = ?, owner = ? WHERE id = ?", (now + LEASE_SECONDS, os.getpid(), row[0]))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return Entry(*row) if row is not None else None

    def ack(self, entry: Entry) -> None:
        """The request was answered for good (sent, or rejected): forget it."""
        with self._lock:
            self._connection().execute("DELETE FROM requests WHERE id = ?", (entry.id,))
            self._bytes = None

    def release(self, entry: Entry, defer: float = 0.0) -> None:
        """Sending failed for now: the request goes back at its place in the order, due again in ``defer`` seconds."""
        due = time.time() + defer if defer > 0 else 0
        with self._lock:
            self._connection().execute("UPDATE requests SET lease_until = ?, attempts = attempts + 1 WHERE id = ?", (due, entry.id))

    def put_aside(self, entry: Entry) -> None:
        """Move a request the API keeps refusing out of the queue, kept (until the TTL) for someone to look at."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT INTO set_aside SELECT id, created_at, method, path, body, size, items, key, attempts + 1 FROM requests WHERE id = ?",
                             (entry.id,))  # fmt: skip
                conn.execute("DELETE FROM requests WHERE id = ?", (entry.id,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def set_aside(self) -> tuple[int, int]:
        """Requests and items set aside."""
        with self._lock:
            row = self._connection().execute("SELECT COUNT(*), COALESCE(SUM(items), 0) FROM set_aside").fetchone()
        return int(row[0]), int(row[1])

    def replace(self, entry: Entry, parts: list[tuple[bytes, int, str]]) -> None:
        """Swap a request for smaller ones (a 413), keeping its place in the order, in one transaction."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM requests WHERE id = ?", (entry.id,))
                conn.executemany(
                    "INSERT INTO requests (created_at, method, path, body, size, items, key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(entry.created_at, entry.method, entry.path, body, len(body), items, key) for body, items, key in parts],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._bytes = None

    def expire(self) -> int:
        """Delete requests older than the TTL (and free dead processes' leases); returns how many items they held."""
        cutoff = time.time() - self.ttl_seconds
        with self._lock:
            conn = self._connection()
            self._free_dead_leases(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                items = conn.execute("SELECT COALESCE(SUM(items), 0) FROM requests WHERE created_at < ?", (cutoff,)).fetchone()[0]
                conn.execute("DELETE FROM requests WHERE created_at < ?", (cutoff,))
                conn.execute("DELETE FROM set_aside WHERE created_at < ?", (cutoff,))  # counted when set aside
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._bytes = None
        return int(items)

    def pending(self) -> tuple[int, int, int]:
        """Requests, items and bytes waiting."""
        with self._lock:
            row = self._connection().execute("SELECT COUNT(*), COALESCE(SUM(items), 0), COALESCE(SUM(size), 0) FROM requests").fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def _total_bytes(self, conn: sqlite3.Connection) -> int:
        if self._bytes is None:
            self._bytes = int(conn.execute("SELECT (SELECT COALESCE(SUM(size), 0) FROM requests) + (SELECT COALESCE(SUM(size), 0) FROM set_aside)").fetchone()[0])
        return self._bytes

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def open_spool(base_url: str, api_key: str) -> Spool:
    """The spool of one destination (API URL and key), under ``AITRACER_SPOOL_DIR``.

    Where no directory can be written (a read-only container), the spool lives
    in memory: retries still work, a crash loses what is waiting.
    """
    name = hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()[:16] + ".db"
    max_bytes = int(env_number(env.AITRACER_SPOOL_MAX_MB, 256) * 1024 * 1024)
    ttl = env_number(env.AITRACER_SPOOL_TTL_HOURS, 24) * 3600
    fsync = env_bool(env.AITRACER_SPOOL_FSYNC, False)
    path = default_spool_dir() / name
    try:
        return Spool(path, max_bytes, ttl, fsync)
    except (OSError, sqlite3.Error) as exc:
        warn_once(("spool", str(path)), "otel-aitracer: cannot open the spool at %s (%s); spooling in memory", path, exc)
        return Spool(":memory:", max_bytes, ttl, fsync)
