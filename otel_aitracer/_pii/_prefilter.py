"""One pass over the text that finds where PII can be, so the detectors look only there.

Each detector family declares its *seeds*: shapes every one of its findings contains (a
secret's literal prefix, nine digits in a run, a dotted quad, an evasion, a name's cue).
Hyperscan matches all seeds in one pass at hundreds of MB/s; the family's own patterns and
validators then run only at the seeds. The seeds decide nothing: a text scanned with
them gives exactly the findings of a scan without them (``tests/test_pii_prefilter.py``).

Without Hyperscan (not installed, or a CPU it cannot run on), or when a text is so dense
with candidates that visiting them one by one would cost more than the plain scan,
:func:`seeds` returns ``None`` and every family searches the whole text itself.

Two databases: the default types' seeds, and the seeds of ``person``/``street_address``,
whose cue words are common enough that they are looked for only when those types are on.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from .._fork import new_lock
from . import _ipv6, _names, _normalize, _numbers, _secrets

_MAX_HITS_PER_BYTE = 1 / 32  # past this, the plain scan is cheaper than a Python call per candidate
_MAX_SCREEN_HITS = 32  # seed matches a screen places before it leaves each part of its text to a pass of its own
Hits = dict[str, list[tuple[int, int, int]]]  # family -> (seed index in the family, start, end)


class Seeds(NamedTuple):
    """Where each family's seeds matched, as character offsets into the scanned text."""

    evasions: list[tuple[int, int]]  # spans to undo (:mod:`._normalize`)
    numbers: list[int]  # where digit seeds end
    secrets: dict[int, list[tuple[int, int]]]  # seed index (see ``_secrets.SEEDS``) -> spans, in order


class _SeedDatabase:
    """Seed patterns of some families, compiled once per process when first used; one scratch space
    per thread (a scan releases the GIL)."""

    def __init__(self, families: tuple[tuple[str, tuple[bytes, ...], bool], ...]) -> None:
        self._families = families  # (name, patterns, whether starts are needed: they halve the speed of runs)
        self._ids = [(name, i) for name, patterns, _ in families for i in range(len(patterns))]
        self._lock = new_lock()  # fork-safe, like every lock here
        self._local = threading.local()
        self._compiled: list[Any] = []  # [] not built yet; [None] unavailable; [database]

    def hits(self, text: str) -> Hits | None:
        data = text.encode("utf-8", "surrogatepass")
        found: list[tuple[int, int, int]] = []
        limit = 64 + int(len(data) * _MAX_HITS_PER_BYTE)

        def on_match(seed: int, start: int, end: int, flags: int, context: Any) -> bool:
            found.append((seed, start, end))
            return len(found) > limit  # True stops the scan

        if self._scan(data, on_match) is not False:  # no Hyperscan, or too many to visit
            return None
        if len(data) != len(text) and found:
            at = _characters(data, [o for _, s, e in found for o in (s, e)])
            found = [(seed, at[s], at[e]) for seed, s, e in found]
        grouped: Hits = {name: [] for name, _, _ in self._families}
        for seed, start, end in found:
            name, index = self._ids[seed]
            grouped[name].append((index, start, end))
        return grouped

    def anything_in(self, data: bytes) -> bool | None:
        """Whether any seed matches in ``data`` (stops at the first); None without a usable Hyperscan."""
        return self._scan(data, _stop)

    def ends(self, data: bytes) -> list[int] | None:
        """Where each seed match in ``data`` ends (byte offsets, in the order found); None without a usable Hyperscan
        or past :data:`_MAX_SCREEN_HITS` matches."""
        found: list[int] = []
        return found if self._scan(data, _collect_end, found) is False else None

    def _scan(self, data: bytes, on_match: Any, context: Any = None) -> bool | None:
        """Call ``on_match`` at each seed match in ``data``: whether it stopped the scan; None without a usable Hyperscan."""
        database = self._database()
        if database is None:
            return None
        try:
            database.scan(data, on_match, 0, context, self._scratch(database))  # positional: keywords are parsed by name on each call
        except _hyperscan().ScanTerminated:
            return True
        return False

    def _database(self) -> Any:
        if not self._compiled:
            with self._lock:
                if not self._compiled:
                    self._compiled.append(self._compile())
        return self._compiled[0]

    def _compile(self) -> Any:
        try:
            hs = _hyperscan()
            patterns = [p for _, family, _ in self._families for p in family]
            starts = [hs.HS_FLAG_SOM_LEFTMOST if som else 0 for _, family, som in self._families for _ in family]
            database = hs.Database(mode=hs.HS_MODE_BLOCK)
            database.compile(expressions=patterns, ids=list(range(len(patterns))), elements=len(patterns), flags=starts)
            return database
        except Exception:  # noqa: BLE001 - not installed, no wheel here, a CPU without SSSE3: search without it
            return None

    def _scratch(self, database: Any) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = _hyperscan().Scratch(database)
        return scratch


_DEFAULT = _SeedDatabase((("evasion", _normalize.SEEDS, True), ("numbers", _numbers.SEEDS, False), ("secrets", _secrets.SEEDS, True)))
_NAMES = _SeedDatabase((("names", _names.SEEDS, True),))
# Every default type's seeds as they read in JSON text (orjson's: only quotes, backslashes and control characters
# escaped), with the ``@`` every address holds and IPv6's colons: one pass over a record's content says whether
# any string in it can hold a finding.
_SCREEN = _SeedDatabase(
    (("evasion", _normalize.SEEDS, False), ("numbers", _numbers.SEEDS, False), ("secrets", _secrets.SEEDS + _secrets.JSON_SEEDS, False),
     ("email", (b"@",), False), ("ipv6", _ipv6.SEEDS, False))
)  # fmt: skip


def seeds(text: str) -> Seeds | None:
    """The default types' seeds in ``text``, or ``None`` when the detectors should search all of it."""
    hits = _DEFAULT.hits(text)
    if hits is None:
        return None
    spans: dict[int, list[tuple[int, int]]] = {}
    for seed, start, end in sorted(hits["secrets"]):
        spans.setdefault(seed, []).append((start, end))
    return Seeds([(s, e) for _, s, e in hits["evasion"]], [e for _, _, e in hits["numbers"]], spans)


def name_seeds(text: str) -> list[tuple[int, int, int]] | None:
    """``person``/``street_address`` seeds in ``text`` (index into ``_names.SEEDS``, start, end), in order."""
    hits = _NAMES.hits(text)
    return None if hits is None else sorted(hits["names"])


def nothing_in_json(data: bytes) -> bool:
    """True when ``data`` (JSON as orjson writes it) holds no seed of a default type, so no string in it can hold a
    finding; False at the first seed, or without a usable Hyperscan."""
    return _SCREEN.anything_in(data) is False


def seed_ends(data: bytes) -> list[int] | None:
    """Where the seeds of the default types (as :func:`nothing_in_json` reads them) end in ``data``; None without a
    usable Hyperscan, or past a few dozen (then ask of each part of ``data`` alone)."""
    return _SCREEN.ends(data)


def available() -> bool:
    """Whether scans use the one-pass prefilter (Hyperscan installed and usable on this CPU)."""
    return _DEFAULT._database() is not None


def engine() -> str:
    """What finds the candidates, for ``doctor``: ``hyperscan 0.9.1`` or why it is pure Python."""
    if available():
        return f"hyperscan {_hyperscan().__version__}"
    return "pure Python (no usable hyperscan: about 10x slower)"


def _stop(*_: Any) -> bool:
    return True  # the first match ends the scan


def _collect_end(seed: int, start: int, end: int, flags: int, found: list[int]) -> bool:
    found.append(end)
    return len(found) > _MAX_SCREEN_HITS  # True ends the scan


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


def _hyperscan() -> Any:
    import hyperscan

    return hyperscan
