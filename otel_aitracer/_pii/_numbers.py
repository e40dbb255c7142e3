"""Digit-shaped PII: payment cards, US SSNs, IPv4 addresses, IBANs, and phone numbers (``_phones``).

One fast pass finds *clusters*: runs of at least seven digits and separators
that are not a bare date. Only those few regions are examined by the
shape-specific patterns, chosen by the cluster's digit count, and validated
(Luhn and card ranges, SSN areas, octets, numbering plans, mod-97); an IBAN is
looked for up to 30 characters before a cluster (its country code and check
digits). Prose with ordinary numbers costs one regex scan. Every pattern is a
flat, bounded character run: no nested quantifiers, linear time on any input.
"""

from __future__ import annotations

import functools
import re
from typing import Iterator

from ._findings import (
    CREDIT_CARD,
    IBAN,
    IP_ADDRESS,
    PHONE,
    SSN,
    Finding,
    after,
    before,
    is_word_char,
    named_before,
)
from ._phones import date_shaped, digit_count, phones

_A = re.ASCII
# A run of digits and separators, started only where a run starts, and not a bare date or
# a date with an hour (``2026-11-22``, ``11/22/2026 10:30``): those are most clusters in text.
_CLUSTER = re.compile(
    r"[0-9](?<![0-9][0-9])(?<![0-9][ .\-/()][0-9])"
    r"(?!(?:[0-9]{3}[/.\-][0-9]{1,2}[/.\-][0-9]{1,2}|[0-9]?[/.\-][0-9]{1,2}[/.\-](?:[0-9]{4}|[0-9]{2}))"
    r"(?:[ T][0-9]{1,2}(?=:)|(?![ .\-/()]?[0-9])))"
    r"[0-9 .\-/()]{5,}[0-9]",
    _A,
)
_LOOKBACK = 2  # '+' or '(' just before a cluster belongs to it
_SEPARATORS = r"[ .\-/()]"
# What every finding here contains, for the one-pass prefilter (:mod:`._prefilter`): nine digits in one
# run (cards, SSNs, NANP and national phones), ``+`` and seven digits (international phones), a dotted
# quad, an IBAN's country code and check digits. A run reports once per group end, not per digit; only
# the end is reported (the window reaches back over the run).
SEEDS: tuple[bytes, ...] = tuple(
    p.encode()
    for p in (
        rf"[0-9](?:{_SEPARATORS}*[0-9]){{8,}}(?:[^0-9]|\z)",
        rf"\+[1-9](?:{_SEPARATORS}*[0-9]){{6,}}(?:[^0-9]|\z)",
        r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?:[^0-9]|\z)",
        r"[A-Z]{2}[0-9]{2}",
    )
)
_RUN_CHARS = frozenset("0123456789 .-/()+")
_RUN = re.compile(r"[0-9 .\-/()+]*")
_REACH_BEFORE = 40  # an IBAN's start (30) and the lookback, before a run
_REACH_AFTER = 40  # an IBAN's tail, and the date shapes the cluster pattern looks ahead for

_CARD = re.compile(r"(?<![0-9A-Za-z_.\-+])[0-9](?:[ \-.]?[0-9]){12,18}(?![0-9A-Za-z_]|[.\-][0-9])", _A)
_SSN = re.compile(r"(?<![0-9A-Za-z_.\-])([0-9]{3})([ \-])([0-9]{2})\2([0-9]{4})(?![0-9A-Za-z_]|[.\-][0-9])", _A)
_NINE_DIGITS = re.compile(r"(?<![0-9A-Za-z_.\-])[0-9]{9}(?![0-9A-Za-z_]|[.\-][0-9])", _A)
_IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])", _A)
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}", _A)

_NOT_A_CARD = ("imei", "isbn", "order", "order no", "order number", "invoice", "tracking", "tracking number", "ticket", "serial", "id", "_id")
_NOT_AN_IP = ("version", "ver", "v", "oid", "release", "build", "firmware", "sdk", "python", "node")
_SSN_WORDS = ("ssn", "social security", "tax id", "taxpayer id")  # nine bare digits are an SSN only after one

# (prefix ranges, allowed lengths) of the card networks; anything else is an account or order number.
_CARD_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, frozenset({16, 17, 18, 19})),
    (65, 65, frozenset({16, 17, 18, 19})),
    (3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (36, 36, frozenset({14, 15, 16, 17, 18, 19})),  # Diners Club
    (300, 305, frozenset({14, 16, 17, 18, 19})),
    (38, 39, frozenset({14, 16, 17, 18, 19})),
    (62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (50, 50, frozenset({16, 17, 18, 19})),  # Maestro
    (56, 69, frozenset({16, 17, 18, 19})),
    (2131, 2131, frozenset({15})),  # JCB, 15 digits
    (1800, 1800, frozenset({15})),
    (2200, 2204, frozenset({16, 17, 18, 19})),  # Mir
)

# IBAN length per country (ISO 13616 registry).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def scan_numbers(text: str, types: frozenset[str], seeds: list[int] | None = None) -> Iterator[Finding]:
    """Yield digit-shaped findings of the requested ``types`` in ``text``; only around ``seeds`` (where
    :data:`SEEDS` matches end) when the prefilter found them."""
    iban_end = 0
    clusters = _CLUSTER.finditer(text) if seeds is None else _clusters_near(text, seeds)
    for cluster in clusters:
        start, end = cluster.span()
        if IBAN in types and end > iban_end and _IBAN_START.search(text, max(0, start - 30), end):
            for finding in _ibans(text, start, end):
                iban_end = finding.end
                yield finding
            if start < iban_end:
                continue
        yield from _scan_cluster(text, start, end, types)


def _clusters_near(text: str, seeds: list[int]) -> Iterator[re.Match[str]]:
    """The clusters in the runs of digits and separators around ``seeds``, each once."""
    last = 0
    for start, end in _windows(text, seeds):
        for cluster in _CLUSTER.finditer(text, max(start, last), end):
            last = cluster.end()
            yield cluster


def _windows(text: str, seeds: list[int]) -> list[tuple[int, int]]:
    """Each seed widened to its whole run and the context the patterns look at; windows that touch are
    merged, and none ends inside a run, so every cluster lies whole in one window."""
    merged: list[tuple[int, int]] = []
    for end in sorted(seeds):
        if merged and end <= merged[-1][1] - _REACH_AFTER:
            continue
        start = end - 1 if end and text[end - 1] not in _RUN_CHARS else end  # the seed's closing character
        while start > 0 and text[start - 1] in _RUN_CHARS:
            start -= 1
        start = max(0, start - _REACH_BEFORE)
        stop = _run_end(text, _run_end(text, end) + _REACH_AFTER)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged


def _run_end(text: str, pos: int) -> int:
    """Where the run of digits and separators at ``pos`` ends (``pos`` itself if none is there)."""
    m = _RUN.match(text, pos)
    return pos if m is None else m.end()


def _scan_cluster(text: str, start: int, end: int, types: frozenset[str]) -> Iterator[Finding]:
    """Only the shapes this cluster's digit count allows are tried (most clusters are dates)."""
    digits = digit_count(text[start:end])
    first = start
    start = max(0, start - _LOOKBACK)
    taken: list[tuple[int, int]] = []
    low, high = end, start
    for kind, finder, min_digits in _FINDERS:
        if digits >= min_digits and kind in types:
            for s, e in finder(text, start, end, taken):
                taken.append((s, e))
                low, high = min(low, s), max(high, e)
                yield Finding(kind, s, e)
            if low <= first and high >= end:
                return  # the whole cluster is accounted for


def _ibans(text: str, start: int, end: int) -> Iterator[Finding]:
    """IBANs whose country code and check digits lie up to 30 characters before a digit cluster."""
    for m in _IBAN_START.finditer(text, max(0, start - 30), end):
        yield from _iban(text, m.start())


def _cards(text: str, start: int, end: int, taken: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text, start, end):
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "").replace(".", "")
        if _grouped_like_a_card(raw, len(digits)) and _card_network(digits) and luhn_valid(digits) and not _context(text, m.start(), _NOT_A_CARD, 24):
            yield m.span()


def _grouped_like_a_card(raw: str, length: int) -> bool:
    """Ungrouped, or grouped with one separator the way cards are printed (4-4-4-4, 4-6-5, 4-6-4)."""
    seps = {c for c in raw if c in " -."}
    if not seps:
        return True
    if len(seps) > 1:
        return False
    groups = [len(g) for g in raw.split(seps.pop())]
    if groups in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4 and sum(groups) == length


def _card_network(digits: str) -> bool:
    for width in (1, 2, 3, 4):
        lengths = _CARD_PREFIXES.get(digits[:width])
        if lengths is not None and len(digits) in lengths:
            return True
    return False


def _prefix_table() -> dict[str, frozenset[int]]:
    table: dict[str, frozenset[int]] = {}
    for low, high, lengths in _CARD_RANGES:
        for prefix in range(low, high + 1):
            table[str(prefix)] = table.get(str(prefix), frozenset()) | lengths
    return table


_CARD_PREFIXES = _prefix_table()


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _ssns(text: str, start: int, end: int, taken: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    for m in _SSN.finditer(text, start, end):
        if ssn_valid(m.group(1), m.group(3), m.group(4)) and not date_shaped(m.group()):
            yield m.span()
    for m in _NINE_DIGITS.finditer(text, start, end):
        raw = m.group()
        if ssn_valid(raw[:3], raw[3:5], raw[5:]) and named_before(text, m.start(), _SSN_WORDS):
            yield m.span()


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """Issued SSNs never have area 000, 666 or 900-999, group 00 or serial 0000; an ITIN (the IRS
    number for those without one, same shape) has area 9xx and group 50-65, 70-88, 90-92 or 94-99."""
    if group == "00" or serial == "0000" or area in ("000", "666"):
        return False
    return area[0] != "9" or int(group) in _ITIN_GROUPS


_ITIN_GROUPS = frozenset([*range(50, 66), *range(70, 89), *range(90, 93), *range(94, 100)])


def _ipv4s(text: str, start: int, end: int, taken: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    if text.count(".", start, end) < 3:
        return
    for m in _IPV4.finditer(text, start, end):
        s = m.start()
        if is_word_char(before(text, s)) or is_word_char(after(text, m.end())):
            continue
        if not all(_octet(part) for part in m.group().split(".")):
            continue
        if not _context(text, s, _NOT_AN_IP, 10) and not _version_operator(text, s):
            yield m.span()


def _octet(part: str) -> bool:
    """0-255 without leading zeros (``010`` is octal to some parsers: not an address people write)."""
    return int(part) <= 255 and (part == "0" or part[0] != "0")


def _version_operator(text: str, start: int) -> bool:
    """``==1.2.3.4``, ``~=…``, ``pkg@1.2.3.4``, ``Chrome/120.0.1.2``: a version, not an address; but
    ``ssh deploy@203.0.113.7`` is a login to an address."""
    head = text[max(0, start - 2) : start]
    if head[-1:] == "@":
        return _REMOTE_LOGIN.search(text, max(0, start - 80), start) is None
    if head[-1:] in ("^", "~") or head in ("==", "<=", ">=", "~=", "!="):
        return True
    return head[-1:] == "/" and head[:1].isalpha()


# A command that logs in to a host, then ``user@`` right before the address.
_REMOTE_LOGIN = re.compile(r"\b(?:ssh|scp|sftp|rsync|mosh|telnet|ftp)\b[^\n]*?[A-Za-z0-9_.\-]+@\Z", _A)


def _iban(text: str, start: int) -> Iterator[Finding]:
    """The IBAN starting at ``start`` if its length fits its country and mod-97 holds."""
    length = _IBAN_LENGTHS.get(text[start : start + 2])
    if length is None or is_word_char(before(text, start)):
        return
    m = _iban_of_length(length).match(text, start)
    if m is not None and iban_valid(m.group().replace(" ", "")):
        yield Finding(IBAN, start, m.end())


@functools.cache
def _iban_of_length(length: int) -> re.Pattern[str]:
    """Country code, check digits and exactly ``length - 4`` characters, grouped by spaces or not."""
    return re.compile(rf"[A-Z]{{2}}[0-9]{{2}}(?: ?[A-Z0-9]){{{length - 4}}}(?![A-Za-z0-9_])", _A)


def iban_valid(iban: str) -> bool:
    """ISO 13616 check: the country code and check digits moved to the end, letters as 10-35, mod 97 is 1."""
    return int((iban[4:] + iban[:4]).translate(_LETTER_VALUES)) % 97 == 1


_LETTER_VALUES = {ord(c): str(10 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def _context(text: str, start: int, words: tuple[str, ...], window: int) -> bool:
    """Whether the value is labelled by one of ``words`` (``IMEI: …``, ``version 1.2.3.4``)."""
    head = text[max(0, start - window) : start].lower().rstrip(" :=#.-'\"\\|")
    return any(head.endswith(w) and (w[0] == "_" or not is_word_char(before(head, len(head) - len(w)))) for w in words)


# (type, finder, fewest digits it can match)
_FINDERS = ((CREDIT_CARD, _cards, 13), (SSN, _ssns, 9), (IP_ADDRESS, _ipv4s, 4), (PHONE, phones, 7))
