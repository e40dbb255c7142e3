"""Secrets: provider API keys and tokens by their documented prefixes, JWTs, bearer
tokens, PEM private keys, and values assigned to keys named like a secret.

Each prefixed pattern starts with a literal, so the regex engine searches for it
as fast as ``str.find``; nothing is matched on clean text. Key-value secrets are
seeded by ``:`` and ``=`` (rare in prose) and decided by the key name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Iterator, Mapping

from ._findings import SECRET, Finding, before, is_word_char, seed_starts

_A = re.ASCII
# (seed, pattern, group holding the secret). Each pattern starts with a literal the engine can search
# for; its seed is where every match starts, for the one-pass prefilter (:mod:`._prefilter`).
_ROWS = (
    (r"sk-", r"sk-(?:ant-(?:api|admin)[0-9]{2}-|proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}", 0),  # OpenAI, Anthropic
    (r"A(?:KIA|SIA|BIA|CCA|Iza)", r"A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}|AIza[0-9A-Za-z_\-]{35}", 0),  # AWS key id, Google API key
    (r"gh[pousr]_", r"gh[pousr]_[A-Za-z0-9]{36,}", 0),  # GitHub tokens
    (r"github_pat_", r"github_pat_[A-Za-z0-9_]{40,}", 0),  # GitHub fine-grained tokens
    (r"x(?:ox[abposre]|app)-", r"x(?:ox[abposre]|app)-[A-Za-z0-9\-]{10,}", 0),  # Slack tokens
    (r"hooks\.slack\.com/", r"hooks\.slack\.com/services/[A-Za-z0-9_/\-]{20,}", 0),  # Slack webhook
    (r"k_(?:live|test)_", r"k_(?:live|test)_[A-Za-z0-9]{16,}", 0),  # Stripe sk_/rk_ (checked below)
    (r"whsec_", r"whsec_[A-Za-z0-9+/=]{20,}", 0),  # Stripe webhook secret
    (r"glpat-", r"glpat-[A-Za-z0-9_\-]{20,}", 0),  # GitLab personal access token
    (r"hf_", r"hf_[A-Za-z0-9]{30,}", 0),  # Hugging Face
    (r"npm_", r"npm_[A-Za-z0-9]{36,}", 0),
    (r"SG\.", r"SG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{30,64}", 0),  # SendGrid
    (r"\.eyJ", r"\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*", 0),  # JWT, found by its payload (``.`` is rarer than ``e``)
    (r"Bearer[ \t]", r"Bearer[ \t]+([A-Za-z0-9\-._~+/]{12,}=*)", 1),
    (r"bearer[ \t]", r"bearer[ \t]+([A-Za-z0-9\-._~+/]{12,}=*)", 1),
    (r"://", r"://[A-Za-z0-9._~%!$&*+;=\-]{1,64}:([^\s/?#@:]{1,128})@", 1),  # password in a URL's userinfo
)
_PREFIXED: tuple[tuple[re.Pattern[str], int], ...] = tuple((re.compile(p, _A), g) for _, p, g in _ROWS)
_ROW_SEEDS = tuple(re.compile(seed, _A) for seed, _, _ in _ROWS)  # without the prefilter, the same starts found by ``re``
_STRIPE = next(i for i, row in enumerate(_ROWS) if row[0].startswith("k_"))  # found without its s/r
_JWT = next(i for i, row in enumerate(_ROWS) if "eyJ" in row[0])  # found by its payload
_JWT_HEADER = re.compile(r"eyJ[A-Za-z0-9_\-]{8,}")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,30}PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]{0,30}PRIVATE KEY-----")
_PEM_UNTERMINATED = 4096
_PEM_SEED = r"-----BEGIN "

# ``:`` or ``=`` after (a quote or space after) a key whose last three letters end a secret-like name;
# checking the tail in a lookbehind keeps the ``:`` of prose, times and JSON keys out of Python.
_TAILS = r"(?i:ord|swd|pwd|ase|ret|key|ken|ion|ial|als|kie|dsn|ing)"
_GAP = r"""["'\\ \t]"""  # quotes, escapes and spaces allowed between a key and its ``:`` / ``=``
_MAX_GAP = 6  # ``\\\":`` after a key in JSON inside JSON inside JSON
_AFTER_SECRET_KEY = "(?:" + "|".join(f"(?<={_TAILS}{_GAP * n}[:=])" for n in range(_MAX_GAP + 1)) + ")"
# One pass per character: a pattern starting with a literal is searched for as fast as ``str.find``.
_ASSIGNS = (re.compile(":" + _AFTER_SECRET_KEY), re.compile("=" + _AFTER_SECRET_KEY))
_ASSIGN_SEED = f"{_TAILS}{_GAP}{{0,{_MAX_GAP}}}[:=]"  # its start is the key's tail; the ``:``/``=`` ends it
SEEDS: tuple[bytes, ...] = tuple(seed.encode() for seed in (*(row[0] for row in _ROWS), _PEM_SEED, _ASSIGN_SEED))
_PEM_INDEX, _ASSIGN_INDEX = len(_ROWS), len(_ROWS) + 1
# The seeds that hold a character JSON escapes (a tab, a quote, a backslash), as they read in JSON text: a tab is
# ``\t`` there and every quote or backslash one more backslash, so a key's gap can be twice as long.
JSON_SEEDS: tuple[bytes, ...] = (rb"[Bb]earer\\t", f"{_TAILS}(?:{_GAP}|\\\\t){{0,{2 * _MAX_GAP}}}[:=]".encode())
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_SECRET_KEY = re.compile(
    r"(?:^|_)(?:password|passwd|pwd|passphrase|secret|client_secret|secret_key|api_key|apikey|access_key|private_key|"
    r"account_?key|shared_?access_?key|storage_?key|"
    r"signing_key|encryption_key|master_key|access_token|auth_token|refresh_token|id_token|session_token|bearer_token|"
    r"token|authorization|proxy_authorization|credentials?|cookie|set_cookie|connection_string|dsn)$"
)
# The value after ``:``/``=``: double-quoted (escapes allowed), quoted inside escaped JSON (``\\"…\\"``,
# closed by the same escape), single-quoted, or bare up to a delimiter. Groups: 1, 3, 4, 5 hold it.
_VALUE = re.compile(
    r"""[ \t]{0,4}(?:"((?:[^"\\\n]|\\.){1,512})"|(\\+)"(.{1,512}?)\2"|'([^'\n]{1,512})'|([^\s"',;&}\]\[<>()\u0080-\U0010ffff]{1,512}))""",
)  # a bare value is ASCII: in ``KEY=value。次の文`` it ends before the Japanese
_VALUE_GROUPS = (1, 3, 4, 5)
_BARE = 5
_AUTH_SCHEMES = frozenset({"basic", "bearer", "token", "digest", "apikey", "key"})
_PLACEHOLDER = re.compile(
    r"(?i)^(?:|\*+|x+|\.+|-+|null|none|nil|true|false|undefined|redacted|changeme|\[[A-Z_]+(?::[0-9a-f]+)?\]|<[^>]*>|\$\{?[A-Za-z_]+\}?|\{\{.*\}\}|%|%s|%\([a-z_]+\)?s?|(?:os\.)?environ.*|process\.env.*|getenv.*)$"
)


@lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """Whether a mapping key, header or attribute name holds a secret (``api_key``, ``X-Api-Key``, ``password``).

    Cached: the same few keys (``role``, ``content``…) come back in every record."""
    key = name.lower().replace("-", "_").replace(".", "_").replace(" ", "_")
    return _SECRET_KEY.search(key) is not None


def scan_secrets(text: str, seeds: Mapping[int, list[tuple[int, int]]] | None = None) -> Iterator[Finding]:
    """Secrets in ``text``; only at ``seeds`` (index into :data:`SEEDS` -> spans) when the prefilter found them
    (then only the families seen are visited: clean text costs no Python per family)."""
    if seeds is None:
        rows: Iterable[int] = range(len(_PREFIXED))
    else:
        if not seeds:
            return
        rows = sorted(i for i in seeds if i < len(_PREFIXED))
    for index in rows:
        pattern, group = _PREFIXED[index]
        starts = seed_starts(_ROW_SEEDS[index], text) if seeds is None else [s for s, _ in seeds[index]]
        for m in _matches(pattern, text, starts):
            start, end = m.span(group)
            if index == _STRIPE:
                start -= 1
                if start < 0 or text[start] not in "sr":
                    continue
            elif index == _JWT:
                start = _jwt_start(text, start)
                if start < 0:
                    continue
            if group == 0 and (is_word_char(before(text, start)) or _glued_after(text, end)):
                continue
            yield Finding(SECRET, start, end)
    if seeds is None or _PEM_INDEX in seeds:
        yield from _pem_keys(text, None if seeds is None else [s for s, _ in seeds[_PEM_INDEX]])
    if seeds is None or _ASSIGN_INDEX in seeds:
        yield from _assigned(text, None if seeds is None else [e - 1 for _, e in seeds[_ASSIGN_INDEX]])


def _matches(pattern: re.Pattern[str], text: str, starts: list[int] | None) -> Iterator[re.Match[str]]:
    """Every match of ``pattern``, or its matches at each of ``starts``: a candidate rejected for what is
    around it does not hide one that starts inside it (the scanner drops overlaps of those kept)."""
    if starts is None:
        yield from pattern.finditer(text)
        return
    for start in starts:
        m = pattern.match(text, start)
        if m is not None:
            yield m


def _jwt_start(text: str, dot: int) -> int:
    """Where the ``eyJ…`` header before a JWT's payload starts, or -1."""
    start = dot
    while start > 0 and dot - start < 2048 and text[start - 1] in _TOKEN_CHARS:
        start -= 1
    return start if _JWT_HEADER.fullmatch(text, start, dot) else -1


def _glued_after(text: str, end: int) -> bool:
    return end < len(text) and (text[end].isascii() and (text[end].isalnum() or text[end] in "_-"))


def _pem_keys(text: str, starts: list[int] | None) -> Iterator[Finding]:
    """``-----BEGIN … PRIVATE KEY-----`` to its END line (or 4 KB when it has none). The END is
    searched for once per block, and not again once the text has none: linear in the text."""
    covered = 0
    end: re.Match[str] | None = None
    exhausted = False
    for begin in _matches(_PEM_BEGIN, text, starts):
        if begin.start() < covered:
            continue
        if not exhausted and (end is None or end.start() < begin.end()):
            end = _PEM_END.search(text, begin.end())
            exhausted = end is None
        covered = end.end() if end is not None and end.start() >= begin.end() else min(len(text), begin.end() + _PEM_UNTERMINATED)
        yield Finding(SECRET, begin.start(), covered)


def _assigned(text: str, signs: list[int] | None) -> Iterator[Finding]:
    """``password=…``, ``"api_key": "…"``, ``Authorization: Basic …``: the value is the secret.
    ``signs``: where the prefilter saw a ``:``/``=`` after a secret-like key's tail."""
    if signs is None:
        assigns: Iterable[re.Match[str] | None] = (m for pattern in _ASSIGNS for m in pattern.finditer(text))
    else:
        assigns = (_ASSIGNS[text[i] == "="].match(text, i) for i in signs)
    for m in assigns:
        if m is None:
            continue
        key = _key_before(text, m.start())
        if not key or not is_secret_key(key):
            continue
        value = _VALUE.match(text, m.end())
        if value is None:
            continue
        group = next(i for i in _VALUE_GROUPS if value.group(i) is not None)
        start, end = value.span(group)
        if group == _BARE:
            while end > start and text[end - 1] in ".:!?":
                end -= 1  # sentence punctuation after a bare value
            if value.group(_BARE).lower() in _AUTH_SCHEMES:
                scheme_value = _VALUE.match(text, end)
                if scheme_value is None or scheme_value.group(_BARE) is None:
                    continue
                start, end = scheme_value.span(_BARE)
            elif m.group() == ":" and not _looks_secret(text[start:end]):
                continue
        value_text = text[start:end]
        if not _PLACEHOLDER.match(value_text) and any(c.isalnum() for c in value_text):  # ``{\\`` opens nested JSON
            yield Finding(SECRET, start, end)


def _key_before(text: str, pos: int) -> str:
    end = pos
    while end > 0 and pos - end < _MAX_GAP and text[end - 1] in "\"' \t\\":
        end -= 1
    start = end
    while start > 0 and end - start < 64 and text[start - 1] in _KEY_CHARS:
        start -= 1
    return text[start:end]


def _looks_secret(value: str) -> bool:
    """An unquoted value after ``key:`` in prose (``Password: at least 8 chars``) is rarely the secret itself."""
    return len(value) >= 6 and (any(c.isdigit() for c in value) or not value.isalpha() or not value.islower())
