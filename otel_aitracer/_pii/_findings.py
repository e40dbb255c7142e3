"""The value type every detector returns: what kind of PII, and where."""

from __future__ import annotations

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
