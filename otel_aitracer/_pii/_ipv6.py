"""IPv6 addresses: compressed forms, embedded IPv4, zones and ``[v6]:port``.

Seeded by each ``:`` next to a hex digit (a literal-prefix search, far faster than a
pattern that starts with a hex class), widened to the surrounding run of hex
digits, colons and dots, then parsed by :mod:`ipaddress`. Times (``10:30:00``),
MAC addresses and C++/Rust paths (``Foo::bar``) do not parse or are glued to words.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterator

from ._findings import IP_ADDRESS, Finding, after, before, is_word_char

_SEED = re.compile(r":(?=[0-9A-Fa-f:])")
# What every address holds, for the record screen (:mod:`._prefilter`): two colons at most four hex digits apart.
SEEDS = (rb":[0-9A-Fa-f]{0,4}:",)
_RUN = re.compile(r"[0-9A-Fa-f:.]{0,45}")
_ZONE = re.compile(r"%[A-Za-z0-9_\-]{1,16}")
_HEX_COLON = frozenset("0123456789abcdefABCDEF:")
_MAX_LEFT = 39


def scan_ipv6(text: str) -> Iterator[Finding]:
    pos = 0
    while True:
        seed = _SEED.search(text, pos)
        if seed is None:
            return
        start = _run_start(text, seed.start())
        run = _RUN.match(text, seed.start())
        end = run.end() if run is not None else seed.end()
        found = _address(text, start, end)
        if found is not None:
            yield found
            pos = found.end
        else:
            pos = end if end > seed.start() + 1 else seed.start() + 1


def _run_start(text: str, colon: int) -> int:
    start = colon
    limit = max(0, colon - _MAX_LEFT)
    while start > limit and text[start - 1] in _HEX_COLON:
        start -= 1
    return start


def _address(text: str, start: int, end: int) -> Finding | None:
    while end > start and text[end - 1] in ".:" and text[end - 2 : end] != "::":
        end -= 1  # sentence punctuation after the address
    candidate = text[start:end]
    if candidate.count(":") < 2 or not any(c.isdigit() for c in candidate):
        return None
    if is_word_char(before(text, start)):
        return None
    zone = _ZONE.match(text, end)
    if zone:
        end = zone.end()
    if is_word_char(after(text, end)):
        return None
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    return Finding(IP_ADDRESS, start, end)
