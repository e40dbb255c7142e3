"""Run the detectors a redactor was asked for and merge their findings."""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from ._email import scan_emails
from ._findings import CREDIT_CARD, EMAIL, IBAN, IP_ADDRESS, PHONE, SECRET, SSN, Finding
from ._ipv6 import scan_ipv6
from ._names import PERSON, STREET_ADDRESS, scan_names, scan_street_addresses
from ._nlp import NLPDetector
from ._normalize import normalized
from ._numbers import scan_numbers
from ._prefilter import Seeds, name_seeds, seeds
from ._secrets import scan_secrets

_NUMERIC = frozenset({PHONE, CREDIT_CARD, SSN, IP_ADDRESS, IBAN})
_NAMES = frozenset({PERSON, STREET_ADDRESS})
_DIGITS = re.compile(r"[0-9]")


def scan(
    text: str, types: frozenset[str], custom: Mapping[str, re.Pattern[str]], nlp: NLPDetector | None = None, prefilter: bool = True
) -> list[Finding]:
    """Every finding of ``types`` in ``text``, sorted, without overlaps (the earliest, then longest, wins); the
    detectors read the text with cheap evasions undone (:mod:`._normalize`), offsets are the original's.
    With ``prefilter`` (and Hyperscan), they look only where :mod:`._prefilter` saw a seed; same findings."""
    found_seeds = seeds(text) if prefilter else None
    plain, origin = normalized(text, None if found_seeds is None else found_seeds.evasions)
    if origin is not None and found_seeds is not None:
        found_seeds = seeds(plain)  # the offsets moved
    found = _scan(plain, types, custom, nlp, found_seeds)
    if origin is None:
        return found
    return [Finding(f.type, origin[f.start], origin[f.end]) for f in found]


def _scan(text: str, types: frozenset[str], custom: Mapping[str, re.Pattern[str]], nlp: NLPDetector | None, found_seeds: Seeds | None) -> list[Finding]:
    found: list[Finding] = []
    if SECRET in types:
        found.extend(scan_secrets(text, None if found_seeds is None else found_seeds.secrets))
    if EMAIL in types and "@" in text:
        found.extend(scan_emails(text))
    if found_seeds is not None:
        if types & _NUMERIC and found_seeds.numbers:
            found.extend(scan_numbers(text, types, found_seeds.numbers))
    elif types & _NUMERIC and _DIGITS.search(text):
        found.extend(scan_numbers(text, types))
    if IP_ADDRESS in types and ":" in text:
        found.extend(scan_ipv6(text))
    if nlp is not None:
        found.extend(nlp.scan(text))
    elif types & _NAMES:
        name_hits = None if found_seeds is None else name_seeds(text)
        if PERSON in types:
            found.extend(scan_names(text, name_hits))
        if STREET_ADDRESS in types:
            found.extend(scan_street_addresses(text, name_hits))
    for name, pattern in custom.items():
        found.extend(Finding(name, m.start(), m.end()) for m in pattern.finditer(text) if m.end() > m.start())
    return _without_overlaps(found)


def _without_overlaps(found: Iterable[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -f.end)):
        if kept and finding.start < kept[-1].end:
            continue
        kept.append(finding)
    return kept
