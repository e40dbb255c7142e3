"""Cheap evasions undone before matching, so ``jane%40example.com``, ``4111 1111 1111 1111`` with
no-break spaces, ``０９０－１２３４－５６７８`` and ``jane [at] example [dot] com`` are found like their
plain forms. Offsets of what is found still point into the original text (:class:`Origin`).

Undone: percent-escapes of the characters addresses and numbers are made of; the HTML entities of
``@``; ``[at]``/``(at)`` and ``[dot]``/``(dot)``; exotic spaces; full-width digits, letters and
``@ + - . _``; and invisible characters (zero-width spaces and joiners, soft hyphens, direction marks),
which are dropped. The look-alike characters are also undone where they are written as JSON escapes
(``\u00a0``, as tool-call arguments carry them) or percent-encoded UTF-8 (``%E2%80%AF``).
"""

from __future__ import annotations

import bisect
import re
import urllib.parse

# Each evasion pattern starts with a literal, so each is searched for fast (``%`` and ``&`` only when the
# character is in the text); one alternation of them all would try every position (15x slower).
_PERCENT_ESCAPE = r"%(?:40|2[0BbEeDdFf89]|3[Aa]|5[BbDdFf])|%[cCeE][0-9a-fA-F](?:%[89abAB][0-9a-fA-F]){1,2}"  # and UTF-8
_ENTITY = r"&#(?:64|[xX]40);|&commat;"
_JSON_ESCAPE = r"\\u(?:00[aA][0dD]|20[0-6][0-9a-fA-F]|3000|[fF][eE][fF][fF]|[fF][fF][0-5][0-9a-fA-F])"  # after any backslashes
_SPELLED = (r"\[(?:at|AT|dot|DOT)\]", r"\((?:at|AT|dot|DOT)\)")  # with a space on either side taken along
_SPACES = "\u00a0" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"
_FULL_WIDTH = "\uff0b\uff0d\uff0e\uff3f" + "".join(map(chr, (*range(0xFF10, 0xFF1A), *range(0xFF20, 0xFF3B), *range(0xFF41, 0xFF5B))))
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"
_LOOKALIKES = _SPACES + _FULL_WIDTH + _INVISIBLE
_LOOKALIKE = "[" + _LOOKALIKES + "]"
# (a character the text must hold for the pattern to match, or "", pattern)
_SEARCHES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("%", re.compile(_PERCENT_ESCAPE)),
    ("&", re.compile(_ENTITY)),
    ("", re.compile(_JSON_ESCAPE)),
    *(("", re.compile(spelled)) for spelled in _SPELLED),
)
_ANY_LOOKALIKE = re.compile(_LOOKALIKE)
_NARROW_LOOKALIKE = re.compile("[" + "".join(c for c in _LOOKALIKES if c <= "\xff") + "]")  # all a Latin-1 text can hold
# The same, for the one-pass prefilter (:mod:`._prefilter`), which reads UTF-8 bytes and reports the spans.
SEEDS: tuple[bytes, ...] = (
    *(search.pattern.encode() for _, search in _SEARCHES),
    b"|".join(b"".join(b"\\x%02x" % b for b in c.encode()) for c in _LOOKALIKES),
)
_PLAIN = {"%40": "@", "%2B": "+", "%2E": ".", "%2D": "-", "%20": " ", "%5F": "_", "%28": "(", "%29": ")", "%2F": "/", "%3A": ":", "%5B": "[", "%5D": "]", "&#64;": "@", "&#X40;": "@", "&COMMAT;": "@"}
_PLAIN_CHARS = str.maketrans({**{c: " " for c in _SPACES}, **{c: chr(ord(c) - 0xFEE0) for c in _FULL_WIDTH}, **{c: "" for c in _INVISIBLE}})


class Origin:
    """Maps an offset in the normalized text back to the original: a sorted list of the points after
    which the two differ in length, with the difference from there on."""

    __slots__ = ("_after", "_shift")

    def __init__(self, after: list[int], shift: list[int]) -> None:
        self._after, self._shift = after, shift

    def __getitem__(self, offset: int) -> int:
        i = bisect.bisect_right(self._after, offset) - 1
        return offset + (self._shift[i] if i >= 0 else 0)


def evasions(text: str) -> list[tuple[int, int]]:
    """Where ``text`` has evasions, found without the prefilter."""
    spans = [m.span() for needle, search in _SEARCHES if needle in text for m in search.finditer(text)]
    if not text.isascii():  # a flag CPython keeps: free
        spans += [m.span() for m in _lookalikes(text).finditer(text)]
    return spans


def _lookalikes(text: str) -> re.Pattern[str]:
    """The look-alike search a text needs: Latin-1 text (German, French…) can only hold two of them."""
    try:
        text.encode("latin-1")  # a copy for Latin-1 text, which CPython stores one byte per character
    except UnicodeEncodeError:
        return _ANY_LOOKALIKE
    return _NARROW_LOOKALIKE


def normalized(text: str, spans: list[tuple[int, int]] | None = None) -> tuple[str, Origin | None]:
    """``text`` with the evasions at ``spans`` (found here when ``None``) undone, and where its offsets
    lie in ``text``; ``(text, None)`` when there is nothing to undo."""
    if spans is None:
        spans = evasions(text)
    if not spans:
        return text, None
    out: list[str] = []
    after: list[int] = []
    shift: list[int] = []
    last, length, delta = 0, 0, 0
    for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):  # the longest of one start
        if start < last:
            continue  # inside the one before (a seed reported twice, an escape inside an escape)
        evasion = text[start:end]
        start, end = _widened(text, start, end, last)
        out.append(text[last:start])
        plain = _plain(evasion)
        out.append(plain)
        length += start - last + len(plain)
        if len(plain) != end - start:
            delta += end - start - len(plain)
            after.append(length)
            shift.append(delta)
        last = end
    out.append(text[last:])
    return "".join(out), Origin(after, shift)


def _widened(text: str, start: int, end: int, last: int) -> tuple[int, int]:
    """The backslashes before a JSON escape (``\\\\u00a0`` in JSON inside JSON), and the spaces around a
    spelled-out ``[at]``, go with the evasion."""
    if text[start] == "\\":
        while start > last and text[start - 1] == "\\":
            start -= 1
    elif text[start] in "[(":
        if start > last and text[start - 1] == " ":
            start -= 1
        if text[end : end + 1] == " ":
            end += 1
    return start, end


def _plain(evasion: str) -> str:
    """What ``evasion`` stands for; itself where it encodes a character that is no look-alike."""
    if len(evasion) == 1:
        return evasion.translate(_PLAIN_CHARS)
    if evasion[0] == "\\":
        return _decoded(chr(int(evasion[-4:], 16)), evasion)
    if evasion[0] == "%" and len(evasion) > 3:
        return _decoded(urllib.parse.unquote(evasion, errors="strict") if _utf8(evasion) else "", evasion)
    if evasion[0] in "[(":
        return "@" if evasion[1] in "aA" else "."
    return _PLAIN[evasion.upper()]


def _decoded(char: str, evasion: str) -> str:
    return char.translate(_PLAIN_CHARS) if len(char) == 1 and char in _LOOKALIKES else evasion


def _utf8(escaped: str) -> bool:
    try:
        bytes.fromhex(escaped.replace("%", "")).decode()
    except ValueError:
        return False
    return True
