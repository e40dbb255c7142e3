"""A hash-chained JSON Lines file: each line carries the sha256 of the line before it and its own, so a
changed, removed or inserted line shows (:func:`verify`).

Appends take an exclusive lock on the file (``fcntl.flock``), read the last line's hash and write under
it: processes sharing one file keep one chain. Files are created ``0600`` (:mod:`.._files`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

from .._files import private_file

try:
    import fcntl
except ImportError:  # Windows: one writer per file
    fcntl = None  # type: ignore[assignment]

GENESIS = "0" * 64
_TAIL = 65536  # enough to hold the last line of any decision record


def canonical(data: Any) -> str:
    """JSON with sorted keys and no spaces: the same bytes for the same data, wherever it is hashed."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sealed(line: dict[str, Any], previous: str) -> dict[str, Any]:
    """``line`` with ``prev_sha256`` and its own ``record_sha256`` (of the canonical line without it)."""
    line = {**line, "prev_sha256": previous}
    line["record_sha256"] = sha256(canonical(line))
    return line


def append_chained(path: Path, lines: Iterable[dict[str, Any]]) -> int:
    """Append ``lines`` to the chain in ``path``; how many were written."""
    private_file(path)
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        previous = _last_hash(fd)
        out = []
        for line in lines:
            line = sealed(line, previous)
            previous = line["record_sha256"]
            out.append(json.dumps(line, separators=(",", ":")) + "\n")
        os.write(fd, "".join(out).encode("utf-8"))
        return len(out)
    finally:
        os.close(fd)  # releases the lock


def append_lines(path: Path, lines: Iterable[dict[str, Any]]) -> None:
    """Append plain JSON lines (the span mirror: no chain)."""
    text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    private_file(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def _last_hash(fd: int) -> str:
    size = os.lseek(fd, 0, os.SEEK_END)
    if size == 0:
        return GENESIS
    start = max(0, size - _TAIL)
    os.lseek(fd, start, os.SEEK_SET)
    tail = os.read(fd, size - start).decode("utf-8", "replace").rstrip("\n")
    try:
        return str(json.loads(tail.rsplit("\n", 1)[-1])["record_sha256"])
    except (ValueError, KeyError, TypeError):
        return sha256(tail.rsplit("\n", 1)[-1])  # a damaged last line: chain on, verify will name it


def verify(path: Path) -> tuple[bool, str]:
    """Whether the chain in ``path`` is intact, and what is wrong (the first line that was changed,
    removed or inserted) or how many lines it holds and its last hash."""
    with open(path, encoding="utf-8") as file:
        lines = file.read().splitlines()
    hashes: list[str] = []
    for number, text in enumerate(lines, 1):
        problem = _check(number, text, hashes, _previous_of(lines[number] if number < len(lines) else None))
        if problem:
            return False, problem
    if not hashes:
        return True, "empty"
    return True, f"{len(hashes)} lines intact; last record_sha256 {hashes[-1]}"


def _previous_of(text: str | None) -> str | None:
    try:
        return str(json.loads(text)["prev_sha256"]) if text else None
    except (ValueError, KeyError, TypeError):
        return None


def _check(number: int, text: str, hashes: list[str], next_previous: str | None) -> str | None:
    try:
        line = json.loads(text)
        own, previous = line.pop("record_sha256"), line["prev_sha256"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"line {number} is not a decision record (changed or inserted)"
    if sha256(canonical(line)) != own:
        return f"line {number} was changed (its record_sha256 does not match its content)"
    expected = hashes[-1] if hashes else GENESIS
    if previous != expected:
        if len(hashes) >= 2 and previous == hashes[-2]:  # two lines follow line number - 2: which one the next line follows
            if next_previous == hashes[-1]:
                return f"line {number} was inserted (it claims to follow line {number - 2}, as line {number - 1} does)"
            return f"line {number - 1} was inserted (line {number} follows line {number - 2})"
        if previous in hashes or previous == GENESIS:
            return f"line {number} was inserted or moved (it follows an earlier line than line {number - 1})"
        if not hashes:
            return "lines were removed before line 1 (its prev_sha256 is not the chain's start)"
        return f"line {number} does not follow line {number - 1}: a line between them was removed, or line {number - 1} was changed and re-hashed"
    hashes.append(own)
    return None
