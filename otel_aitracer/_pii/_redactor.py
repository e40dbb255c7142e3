"""``PIIRedactor``: detect PII in text and JSON-like values, and mask, redact or hash it."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from bisect import bisect_right
from collections import Counter
from typing import Any, Mapping, Sequence, Union

import orjson

from .._config import env_text
from .._fork import new_lock
from ..environment_variables import AITRACER_PII_NLP_MODEL, AITRACER_PII_SALT
from ..exceptions import ConfigurationError
from ._findings import BUILTIN_TYPES, Finding
from ._nlp import NLP_TYPES, NLPDetector
from ._prefilter import nothing_in_json, seed_ends
from ._scanner import scan
from ._secrets import is_secret_key

ACTIONS = ("mask", "redact", "hash", "none")
CustomPatterns = Union[Mapping[str, Union[str, "re.Pattern[str]"]], Sequence[Union[str, "re.Pattern[str]"]]]  # noqa: UP007 - a runtime alias on 3.10
_CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SHORTEST_PII = 3  # "::1"
_CACHE_CHARS = 8_000_000
_CACHE_MAX_ITEM = 1_000_000
_SCREENED = frozenset(BUILTIN_TYPES)  # the types whose seeds the record screen knows


class PIIRedactor:
    """Finds ``email``, ``phone``, ``credit_card``, ``ssn``, ``ip_address``, ``iban``, ``secret``
    (the default), custom patterns, and on request ``person`` and ``street_address`` (by rules, or with
    the ``nlp`` extra by the spaCy pipeline ``nlp_model``), and replaces them per ``action``:

    - ``mask`` → ``[EMAIL]``; ``redact`` → ``***``; ``none`` → detect and count only;
    - ``hash`` → ``[EMAIL:<12 hex>]``, an HMAC-SHA256 of the value keyed by ``salt``
      (``AITRACER_PII_SALT``, else random per process), so equal values stay
      correlatable without being guessable.

    Results for a string are cached (bounded, oldest out first), so a conversation's
    earlier messages, sent again on every call, are scanned once. Thread-safe.
    """

    def __init__(
        self,
        types: Sequence[str] | None = None,
        action: str = "mask",
        custom_patterns: CustomPatterns | None = None,
        salt: str | bytes | None = None,
        *,
        nlp_model: str | None = None,
    ) -> None:
        if action not in ACTIONS:
            raise ConfigurationError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
        self.action = action
        self._custom = _compile_custom(custom_patterns)
        self.types: frozenset[str] = _check_types(types)
        nlp_types = self.types.intersection(NLP_TYPES)
        model = nlp_model or env_text(AITRACER_PII_NLP_MODEL)
        self._nlp = NLPDetector(nlp_types, model) if nlp_types and model else None  # else rules (``_names``)
        self._salt = _salt_bytes(salt if salt is not None else env_text(AITRACER_PII_SALT))
        self._screenable = not self._custom and self._nlp is None and self.types <= _SCREENED  # see :meth:`clean`
        self._cache: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {}
        self._cache_chars = 0
        self._lock = new_lock()

    def __repr__(self) -> str:
        return f"PIIRedactor(types={sorted(self.types | set(self._custom))}, action={self.action!r})"

    def scan(self, text: str) -> list[Finding]:
        """Typed findings with offsets into ``text``, sorted and non-overlapping."""
        return scan(text, self.types, self._custom, self._nlp)

    def redact(self, text: str) -> str:
        return self._text(text)[0]

    def redact_value(self, value: Any) -> Any:
        """A copy of a JSON-like value (dict / list / str) with PII replaced; structure kept.

        Values under keys named like a secret (``password``, ``api_key``, ``Authorization``…)
        are secrets whole. Strings holding JSON (tool-call ``arguments``) are redacted
        as JSON, so the result still parses.
        """
        return self.redact_counted(value)[0]

    def redact_counted(self, value: Any) -> tuple[Any, Counter[str]]:
        """``redact_value`` plus how many findings of each type it replaced (never the values)."""
        counts: dict[str, int] = {}
        return self._value(value, counts), Counter(counts)

    def redact_into(self, value: Any, counts: dict[str, int]) -> Any:
        """``redact_value``, adding the findings per type to ``counts`` (the record path: no Counter per field)."""
        return self._value(value, counts)

    def clean(self, value: Any) -> bool:
        """True when no string in ``value`` can hold a finding, by one pass of the prefilter over it as JSON: most
        records carry no PII, and they skip the walk. False when it cannot tell (custom patterns and the name
        detectors have no seeds; content JSON cannot encode; no Hyperscan): then the walk decides."""
        if not self._screenable:
            return False
        try:
            data = orjson.dumps(value)
        except orjson.JSONEncodeError:
            return False
        return nothing_in_json(data)

    def unclean(self, content: dict[str, Any]) -> set[str]:
        """The keys of ``content`` whose values may hold a finding (so the walk must decide), by one pass of the
        prefilter over it as JSON: a record's content fields, most of them clean. Each seed found is placed in the
        member it ends in (a seed within a value ends within it), so a prompt with PII costs its answer nothing."""
        if not self._screenable:
            return set(content)
        try:
            data = orjson.dumps(content)
        except orjson.JSONEncodeError:
            return set(content)
        ends = seed_ends(data)
        if ends == []:
            return set()
        members = _member_ends(data, content) if ends else None
        if members is None:  # no Hyperscan, or too many seeds to place: each value alone
            return {key for key, value in content.items() if not self.clean(value)}
        member_ends, keys = members
        return {keys[min(bisect_right(member_ends, end - 1), len(keys) - 1)] for end in ends or ()}

    # The walk below is the hot path of every record: exact type checks first, plain dict counts.
    def _value(self, value: Any, counts: dict[str, int]) -> Any:
        kind = type(value)
        if kind is str:
            return self._string(value, counts)
        if kind is dict or isinstance(value, dict):
            return {k: self._keyed(k, v, counts) for k, v in value.items()}
        if kind is list or kind is tuple or isinstance(value, (list, tuple)):
            return [self._value(v, counts) for v in value]
        if isinstance(value, str):
            return self._string(value, counts)
        return value

    def _keyed(self, key: Any, value: Any, counts: dict[str, int]) -> Any:
        if type(key) is str and is_secret_key(key):
            if _scalar(value):
                return self._whole_secret(value, counts)
            if isinstance(value, (list, tuple)) and all(_scalar(v) for v in value):
                return [self._whole_secret(v, counts) for v in value]
        return self._value(value, counts)

    def _whole_secret(self, value: str | int | float, counts: dict[str, int]) -> Any:
        text = str(value)
        if not text.strip() or text.startswith("[SECRET"):
            return value
        counts["secret"] = counts.get("secret", 0) + 1
        return self._replacement("secret", text)

    def _string(self, text: str, counts: dict[str, int]) -> str:
        if _looks_like_json(text):
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, (dict, list)):
                inner: dict[str, int] = {}
                redacted = self._value(parsed, inner)
                if not inner:
                    return text
                for kind, n in inner.items():
                    counts[kind] = counts.get(kind, 0) + n
                return text if self.action == "none" else orjson.dumps(redacted).decode()
        redacted_text, found = self._text(text)
        for kind, n in found:
            counts[kind] = counts.get(kind, 0) + n
        return redacted_text

    def _text(self, text: str) -> tuple[str, tuple[tuple[str, int], ...]]:
        if len(text) < _SHORTEST_PII and not self._custom:
            return text, ()
        hit = self._cache.get(text)  # a dict read is atomic; only writes take the lock
        if hit is not None:
            return hit
        findings = self.scan(text)
        found: dict[str, int] = {}
        for f in findings:
            found[f.type] = found.get(f.type, 0) + 1
        result = (self._apply(text, findings), tuple(found.items()))
        if len(text) <= _CACHE_MAX_ITEM:
            self._remember(text, result)
        return result

    def _remember(self, text: str, result: tuple[str, tuple[tuple[str, int], ...]]) -> None:
        """Keep ``result`` for ``text``; the oldest entries go first once the cache holds too many characters."""
        with self._lock:
            if text in self._cache:
                return
            self._cache[text] = result
            self._cache_chars += len(text)
            while self._cache_chars > _CACHE_CHARS:
                old = next(iter(self._cache))
                del self._cache[old]
                self._cache_chars -= len(old)

    def _apply(self, text: str, findings: list[Finding]) -> str:
        if not findings or self.action == "none":
            return text
        parts: list[str] = []
        pos = 0
        for f in findings:
            parts.append(text[pos : f.start])
            parts.append(self._replacement(f.type, text[f.start : f.end]))
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)

    def _replacement(self, kind: str, value: str) -> str:
        if self.action == "redact":
            return "***"
        if self.action == "hash":
            digest = hmac.new(self._salt, value.encode(), hashlib.sha256).hexdigest()[:12]
            return f"[{kind.upper()}:{digest}]"
        if self.action == "none":
            return value
        return f"[{kind.upper()}]"


def _member_ends(data: bytes, content: dict[str, Any]) -> tuple[list[int], list[str]] | None:
    """Where each member of ``content`` ends in ``data`` (``orjson.dumps(content)``), its comma included, and the keys
    in that order; None if the members, encoded alone, do not add up to ``data`` (then no seed is placed)."""
    ends, at = [], 1  # after "{"
    for key, value in content.items():
        at += len(orjson.dumps(key)) + 1 + len(orjson.dumps(value)) + 1  # "key":value and the "," (or "}") after it
        ends.append(at)
    return (ends, list(content)) if at == len(data) else None


def _looks_like_json(text: str) -> bool:
    """Starts (after whitespace) with ``{`` or ``[``; cheap for the common case of plain text."""
    first = text[:1]
    if first == "{" or first == "[":
        return len(text) > 2
    if first.isspace():
        stripped = text.lstrip()
        return stripped[:1] in ("{", "[") and len(stripped) > 2
    return False


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _check_types(types: Sequence[str] | None) -> frozenset[str]:
    if types is None:
        return frozenset(BUILTIN_TYPES)
    if isinstance(types, str):
        raise ConfigurationError(f"types must be a list of names, got the string {types!r}")
    unknown = [t for t in types if t not in BUILTIN_TYPES + NLP_TYPES]
    if unknown:
        known = ", ".join(BUILTIN_TYPES + NLP_TYPES)
        raise ConfigurationError(f"unknown PII types {unknown}; known: {known} (custom ones go in custom_patterns)")
    return frozenset(types)


def _compile_custom(patterns: CustomPatterns | None) -> dict[str, re.Pattern[str]]:
    if patterns is None:
        return {}
    items = patterns.items() if isinstance(patterns, Mapping) else [("custom", p) for p in patterns]
    compiled: dict[str, re.Pattern[str]] = {}
    for name, pattern in items:
        if not isinstance(name, str) or not _CUSTOM_NAME.fullmatch(name):
            raise ConfigurationError(f"custom pattern names must be lower_snake_case, got {name!r}")
        try:
            regex = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ConfigurationError(f"custom pattern {name!r} does not compile: {exc}") from None
        if regex.match(""):
            raise ConfigurationError(f"custom pattern {name!r} matches the empty string")
        compiled[name] = regex if name not in compiled else re.compile(f"{compiled[name].pattern}|{regex.pattern}")
    return compiled


def _salt_bytes(salt: str | bytes | None) -> bytes:
    if salt is None or salt == "":
        return os.urandom(32)
    return salt.encode() if isinstance(salt, str) else bytes(salt)
