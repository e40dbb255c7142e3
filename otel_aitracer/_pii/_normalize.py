"""Cheap evasions undone before matching: percent-encoded ``@ + . - _`` and spaces, no-break and thin
spaces, full-width digits and at signs. Offsets of what is found still point into the original text."""

from __future__ import annotations

import re

# Only what can hide a value's shape: a percent-escape of a character addresses and numbers are made of,
# an exotic space, a full-width digit or @. Prose without them costs this one search.
_ESCAPE = r"%(?:40|2[BbEeDd0]|5[Ff])"
_LOOKALIKE = r"[\u00a0\u2000-\u200a\u202f\u205f\u3000\uff10-\uff19\uff20]"
_EVASIVE = re.compile(f"{_ESCAPE}|{_LOOKALIKE}")
_ANY_ESCAPE, _ANY_LOOKALIKE = re.compile(_ESCAPE), re.compile(_LOOKALIKE)  # each alone scans fast; together they do not
_PERCENT = {"40": "@", "2B": "+", "2E": ".", "2D": "-", "20": " ", "5F": "_"}


def normalized(text: str) -> tuple[str, list[int] | None]:
    """``text`` with the evasions undone, and each of its characters' offset in ``text`` (one more entry for
    the end); ``(text, None)`` when there is nothing to undo."""
    if not ("%" in text and _ANY_ESCAPE.search(text)) and (text.isascii() or not _ANY_LOOKALIKE.search(text)):
        return text, None  # the usual case, decided by checks that cost almost nothing (isascii is a flag CPython keeps)
    out: list[str] = []
    origin: list[int] = []
    last = 0
    for m in _EVASIVE.finditer(text):
        out.append(text[last : m.start()])
        origin.extend(range(last, m.start()))
        out.append(_plain(m.group()))
        origin.append(m.start())
        last = m.end()
    out.append(text[last:])
    origin.extend(range(last, len(text) + 1))
    return "".join(out), origin


def _plain(evasion: str) -> str:
    if evasion[0] == "%":
        return _PERCENT[evasion[1:].upper()]
    code = ord(evasion)
    if 0xFF10 <= code <= 0xFF19:
        return chr(code - 0xFF10 + 48)
    return "@" if code == 0xFF20 else " "
