"""Email addresses, found from each ``@`` outward so the scan is linear on any input."""

from __future__ import annotations

import re
from typing import Iterator

from ._findings import EMAIL, Finding

_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_MAX_LOCAL = 64
_DOMAIN = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*\.([A-Za-z]{2,24})(?![A-Za-z0-9_\-]|\.[A-Za-z0-9])",
    re.ASCII,
)
# ``icon@2x.png``, ``logo@3x.webp``: asset names, not mailboxes.
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "avif", "pdf"})


def scan_emails(text: str) -> Iterator[Finding]:
    at = text.find("@")
    while at != -1:
        end = _email_end(text, at)
        start = _local_start(text, at) if end else at
        if end and start < at:
            yield Finding(EMAIL, start, end)
            at = text.find("@", end)
        else:
            at = text.find("@", at + 1)


def _local_start(text: str, at: int) -> int:
    start = at
    limit = max(0, at - _MAX_LOCAL - 1)
    while start > limit and text[start - 1] in _LOCAL_CHARS:
        start -= 1
    if start == limit and limit > 0 and text[start - 1] in _LOCAL_CHARS:
        return at  # longer than any mailbox: a token, not an address
    while start < at and text[start] == ".":
        start += 1
    if start > 0 and text[start - 1] == ":" and "://" in text[max(0, start - 80) : start]:
        return at  # ``scheme://user:password@host``: the password is a secret, the host no mailbox
    return start


def _email_end(text: str, at: int) -> int:
    m = _DOMAIN.match(text, at + 1)
    if m is None or m.group(1).lower() in _FILE_SUFFIXES:
        return 0
    end = m.end()
    if end < len(text) and text[end] == ":" and end + 1 < len(text) and not text[end + 1].isspace():
        return 0  # git@github.com:org/repo is an SSH remote
    return end
