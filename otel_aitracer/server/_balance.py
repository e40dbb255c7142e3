"""Even connections across serve's workers.

uvicorn's workers share one listening socket, and a keep-alive connection stays with the worker that
accepted it. A collector keeps a few connections open for hours, so one worker could serve two thirds of the
load while another idled (measured: 45 and 93 µs of CPU per span in two workers' ingest threads). Each
worker publishes how many connections it holds, in a file of a directory its siblings share (named by their
parent process and the port); a worker holding more than one connection over the least loaded one answers
its next request with ``connection: close``, and the client connects again, to whichever worker accepts.

Best effort: where the directory cannot be made (a read-only temporary directory), or one of that name is not
this user's own (another user of the machine made it first), nothing is shed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from pathlib import Path

_READ_EVERY = 0.25  # seconds between two reads of the siblings' counts


class Balance:
    """This worker's count of open connections, and whether it holds more than its share."""

    def __init__(self, port: int) -> None:
        self._directory = Path(tempfile.gettempdir()) / f"otel-aitracer-serve-{os.getppid()}-{port}"
        self._pid = os.getpid()
        self._connections = 0
        self._leaving = 0  # connections told to close that have not closed yet
        self._fewest_elsewhere: int | None = None
        self._read_at = 0.0
        self._fd: int | None = None
        with contextlib.suppress(OSError):
            self._fd = _own_file(self._directory, self._pid)
            self._publish()

    def opened(self) -> None:
        self._connections += 1
        self._publish()

    def closed(self, shed: bool) -> None:
        self._connections -= 1
        self._leaving -= shed
        self._publish()

    def shed_one(self) -> bool:
        """Whether a connection should leave: this worker holds more than one connection over the least loaded of its
        live siblings, counting those already told to leave as gone (else every request in flight would be shed)."""
        now = time.monotonic()
        if now - self._read_at >= _READ_EVERY:
            self._read_at, self._fewest_elsewhere = now, self._fewest_of_siblings()
        if self._fewest_elsewhere is None or self._connections - self._leaving <= self._fewest_elsewhere + 1:
            return False
        self._leaving += 1
        return True

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
                (self._directory / str(self._pid)).unlink()
                self._directory.rmdir()  # the last worker out removes it
            self._fd = None

    def _publish(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.pwrite(self._fd, b"%10d" % self._connections, 0)

    def _fewest_of_siblings(self) -> int | None:
        fewest: int | None = None
        try:
            entries = list(os.scandir(self._directory)) if self._fd is not None else []
        except OSError:
            return None
        for entry in entries:
            if not entry.name.isdigit() or int(entry.name) == self._pid:
                continue
            if not _alive(int(entry.name)):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)  # a worker that died without cleaning up
                continue
            with contextlib.suppress(OSError, ValueError):
                count = int(Path(entry.path).read_bytes() or b"0")
                fewest = count if fewest is None else min(fewest, count)
        return fewest


def _own_file(directory: Path, pid: int) -> int | None:
    """This worker's file in the shared directory, made by it or a sibling; None for a directory someone else could
    have prepared (its name is guessable): not a directory of this user's, or open to others. No link is followed."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o700)
    made = os.lstat(directory)
    if not stat.S_ISDIR(made.st_mode) or made.st_uid != os.getuid() or made.st_mode & 0o077:
        return None
    return os.open(directory / str(pid), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
