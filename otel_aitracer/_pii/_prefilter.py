"""One pass over the text that finds where PII can be, so the detectors look only there.

Each detector family declares its *seeds*: shapes every one of its findings contains (a
secret's literal prefix, nine digits in a run, a dotted quad, an evasion). Hyperscan
matches all seeds in one pass at hundreds of MB/s; the family's own patterns and
validators then run only at the seeds. The seeds decide nothing: a text scanned with
them gives exactly the findings of a scan without them (``tests/test_pii_prefilter.py``).

Without Hyperscan (not installed, or a CPU it cannot run on), or when a text is so dense
with candidates that visiting them one by one would cost more than the plain scan,
:func:`seeds` returns ``None`` and every family searches the whole text itself.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from . import _normalize, _numbers, _secrets

# Seed patterns, in one list of ids: the evasions', then the numbers', then the secrets'.
_PATTERNS: tuple[bytes, ...] = (*_normalize.SEEDS, *_numbers.SEEDS, *_secrets.SEEDS)
_FIRST_NUMBER = len(_normalize.SEEDS)
_FIRST_SECRET = _FIRST_NUMBER + len(_numbers.SEEDS)
_MAX_HITS_PER_BYTE = 1 / 32  # past this, the plain scan is cheaper than a Python call per candidate


class Seeds(NamedTuple):
    """Where each family's seeds matched, as character offsets into the scanned text."""

    evasions: list[tuple[int, int]]  # spans to undo (:mod:`._normalize`)
    numbers: list[int]  # where digit seeds end
    secrets: dict[int, list[tuple[int, int]]]  # seed index (see ``_secrets.SEEDS``) -> spans, in order


def seeds(text: str) -> Seeds | None:
    """The seeds in ``text``, or ``None`` when the detectors should search all of it."""
    database = _database()
    if database is None:
        return None
    data = text.encode("utf-8", "surrogatepass")
    numbers: list[int] = []
    secrets: list[tuple[int, int, int]] = []
    evasions: list[tuple[int, int]] = []
    limit = 64 + int(len(data) * _MAX_HITS_PER_BYTE)

    def on_match(seed: int, start: int, end: int, flags: int, context: Any) -> bool:
        if seed >= _FIRST_SECRET:
            secrets.append((seed - _FIRST_SECRET, start, end))
        elif seed >= _FIRST_NUMBER:
            numbers.append(end)
            return len(numbers) > limit  # True stops the scan
        else:
            evasions.append((start, end))
        return False

    try:
        database.scan(data, match_event_handler=on_match, scratch=_scratch(database))
    except _hyperscan().ScanTerminated:
        return None
    if len(data) != len(text) and (numbers or secrets or evasions):
        at = _characters(data, [*numbers, *(o for _, s, e in secrets for o in (s, e)), *(o for span in evasions for o in span)])
        numbers = [at[o] for o in numbers]
        secrets = [(seed, at[s], at[e]) for seed, s, e in secrets]
        evasions = [(at[s], at[e]) for s, e in evasions]
    spans: dict[int, list[tuple[int, int]]] = {}
    for seed, start, end in sorted(secrets):
        spans.setdefault(seed, []).append((start, end))
    return Seeds(evasions, numbers, spans)


def _characters(data: bytes, offsets: list[int]) -> dict[int, int]:
    """Byte offsets to character offsets, decoding only the stretches between them. A seed that ends
    on part of a character (``[^0-9]`` after a run) ends before that character."""
    at: dict[int, int] = {}
    byte_at, char_at = 0, 0
    for offset in sorted(set(offsets)):
        boundary = offset
        while boundary < len(data) and data[boundary] & 0xC0 == 0x80:  # inside a character
            boundary -= 1
        char_at += len(data[byte_at:boundary].decode("utf-8", "surrogatepass"))
        byte_at = boundary
        at[offset] = char_at
    return at


# ---- the compiled database: built once per process, one scratch space per thread ------------------

_lock = threading.Lock()
_local = threading.local()
_compiled: list[Any] = []  # [] not built yet; [None] unavailable; [database]


def available() -> bool:
    """Whether scans use the one-pass prefilter (Hyperscan installed and usable on this CPU)."""
    return _database() is not None


def _hyperscan() -> Any:
    import hyperscan

    return hyperscan


def _database() -> Any:
    if not _compiled:
        with _lock:
            if not _compiled:
                _compiled.append(_compile())
    return _compiled[0]


def _compile() -> Any:
    try:
        hs = _hyperscan()
        database = hs.Database(mode=hs.HS_MODE_BLOCK)
        database.compile(
            expressions=list(_PATTERNS),
            ids=list(range(len(_PATTERNS))),
            elements=len(_PATTERNS),
            flags=[0 if _FIRST_NUMBER <= i < _FIRST_SECRET else hs.HS_FLAG_SOM_LEFTMOST for i in range(len(_PATTERNS))],  # starts of digit runs would halve the speed
        )
        return database
    except Exception:  # noqa: BLE001 - not installed, no wheel here, a CPU without SSSE3: search without it
        return None


def _scratch(database: Any) -> Any:
    scratch = getattr(_local, "scratch", None)
    if scratch is None:
        scratch = _local.scratch = _hyperscan().Scratch(database)
    return scratch
