"""The value type every detector returns: what kind of PII, and where."""

from __future__ import annotations

import re
from typing import NamedTuple

EMAIL = "email"
PHONE = "phone"
CREDIT_CARD = "credit_card"
SSN = "ssn"
IP_ADDRESS = "ip_address"
IBAN = "iban"
SECRET = "secret"

BUILTIN_TYPES: tuple[str, ...] = (EMAIL, PHONE, CREDIT_CARD, SSN, IP_ADDRESS, IBAN, SECRET)


class Finding(NamedTuple):
    """One detected value: ``text[start:end]`` is of kind ``type``. Never holds the value itself."""

    type: str
    start: int
    end: int


def is_word_char(ch: str) -> bool:
    """ASCII letters, digits and ``_``: what glues a candidate into a longer identifier.

    Non-ASCII letters do not count, so ``連絡先はtaro@example.comです`` still yields the email.
    """
    return ch.isascii() and (ch.isalnum() or ch == "_")


def before(text: str, i: int) -> str:
    return text[i - 1] if i > 0 else ""


def after(text: str, i: int) -> str:
    return text[i] if i < len(text) else ""


def seed_starts(seed: re.Pattern[str], text: str) -> list[int]:
    """Where ``seed`` matches in ``text``, overlapping matches included (``Mr. Mr. Jane``): the starts the
    prefilter reports, found by ``re`` where there is no prefilter."""
    starts = []
    m = seed.search(text)
    while m is not None:
        starts.append(m.start())
        m = seed.search(text, m.start() + 1)
    return starts


def named_before(text: str, start: int, words: tuple[str, ...], reach: int = 32) -> bool:
    """Whether a word just before ``start`` names what follows (``my SSN 123456789``, ``"phone":
    "4155550123"``, ``| SSN | … |``) with no other number in between: the context that makes a bare
    run of digits a value of that kind. ``words`` are lower case."""
    head = text[max(0, start - reach) : start].lower()
    for word in words:
        at = head.rfind(word)
        if at != -1 and not _ascii_letter(before(head, at)) and not _ascii_letter(after(head, at + len(word))):
            return not any(c.isdigit() for c in head[at + len(word) :])
    return False


def _ascii_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()
