"""Phone numbers: three written shapes, each validated against the numbering plans.

- North American ``(702) 375-0477``, ``702-375-0477``, ``+1 (646) 555-0100``;
- international ``+49 151 23456789``, ``+33 (0)1 73 99 06 95``, ``+442079460958``;
- national with a trunk 0 (``020 7946 0958``, ``090-1234-5678``), tried against
  :data:`NATIONAL_REGIONS`.

A bare run of digits is a phone number only where a word just before names one
(``phone: 4155550123``, ``"mobile": "07700900123"``): elsewhere it is as likely
an order number, an epoch or an id. The stronger the
shape, the less is asked: ``+`` with a country code, or an area code in
parentheses, needs a length that country uses; bare ``702-375-0477`` and
national forms must be in the numbering plan. Candidates go straight to
:mod:`phonenumbers` as (country code, national number), skipping its
general-purpose ``parse()``, which costs four times the check itself.
"""

from __future__ import annotations

import functools
import re
from typing import Iterator

import phonenumbers
from phonenumbers import PhoneNumber

from ._findings import after, before, is_word_char, named_before

_A = re.ASCII
_NANP = re.compile(
    r"(?<![0-9+\-.#/])(?<![0-9]:)(?:\+?1[ .\-]?)?(?:\([2-9][0-9]{2}\)[ .\-]?|[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}(?![0-9]|[.\-/][0-9])", _A
)
_INTERNATIONAL = re.compile(r"(?<![0-9+])\+[1-9][0-9 .\-()]{5,24}[0-9]", _A)
_NATIONAL = re.compile(r"(?<![0-9+\-.#/])(?<![0-9]:)\(?0[1-9][0-9 .\-()/]{5,16}[0-9]", _A)
_BARE = re.compile(r"(?<![0-9A-Za-z_.\-+])[0-9]{9,12}(?![0-9A-Za-z_]|[.\-][0-9])", _A)
_PHONE_WORDS = ("phone", "telephone", "tel", "mobile", "cell", "cellphone", "call", "fax", "whatsapp", "sms", "text me",
                "telefon", "téléphone", "portable", "handy", "電話", "携帯", "手机", "电话")  # fmt: skip
_DATE_LIKE = re.compile(r"[0-9]{4}[\-/.][0-9]{1,2}[\-/.][0-9]{1,2}|[0-9]{1,2}[\-/.][0-9]{1,2}[\-/.][0-9]{2,4}", _A)
_NOT_DIGITS = re.compile(r"[^0-9]+")

# Regions tried for national numbers written with a trunk 0 (``020 7946 0958``, ``0151 2345678``).
NATIONAL_REGIONS: tuple[str, ...] = ("GB", "DE", "FR", "JP", "IN", "AU", "NL", "IT", "ES", "BR", "CH", "AT", "SE", "KR", "CN")


def phones(text: str, start: int, end: int, taken: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Spans of valid phone numbers in ``text[start:end]`` that do not overlap ``taken``."""
    region = text[start:end]
    if "+" in region:  # first: "+44(0)909 879 0277" holds a NANP-shaped tail
        for m in _INTERNATIONAL.finditer(text, start, end):
            span = None if _overlaps(m.span(), taken) else _longest_valid(text, m.start(), m.end(), _valid_international)
            if span:
                yield span
    if digit_count(region) >= 10:
        for m in _NANP.finditer(text, start, end):
            if not _overlaps(m.span(), taken) and not is_word_char(before(text, m.start())) and _valid_nanp(m.group()):
                yield m.span()
    for m in _BARE.finditer(text, start, end):
        if not _overlaps(m.span(), taken) and named_before(text, m.start(), _PHONE_WORDS) and _valid_bare(m.group()):
            yield m.span()
    if "0" not in region:
        return
    for m in _NATIONAL.finditer(text, start, end):
        raw = m.group()
        if _overlaps(m.span(), taken) or is_word_char(before(text, m.start())) or date_shaped(raw) or digit_count(raw) < 9:
            continue
        if any(c in raw for c in " .-()/"):
            span = _longest_valid(text, m.start(), m.end(), _valid_national)
            if span:
                yield span


def _valid_bare(digits: str) -> bool:
    """In the North American plan, or a national number with its trunk 0."""
    return _valid_national(digits) if digits[0] == "0" else _in_north_american_plan(digits)


def date_shaped(raw: str) -> bool:
    return _DATE_LIKE.fullmatch(raw) is not None


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in taken)


def digit_count(raw: str) -> int:
    """Characters of a cluster that are not its separators (unrolled: this runs for every cluster)."""
    return len(raw) - raw.count(" ") - raw.count(".") - raw.count("-") - raw.count("(") - raw.count(")") - raw.count("/") - raw.count("+")


def _longest_valid(text: str, start: int, end: int, valid) -> tuple[int, int] | None:  # noqa: ANN001
    """The candidate, or it with trailing groups dropped (``+49 151 2345678 2024``), if it is a valid number."""
    for _ in range(3):
        if is_word_char(after(text, end)) or digit_count(text[start:end]) < 7:
            return None
        if valid(text[start:end]):
            return start, end
        cut = max(text.rfind(sep, start, end) for sep in " .-")
        if cut <= start:
            return None
        end = cut
        while end > start and not text[end - 1].isdigit():
            end -= 1
    return None


def _valid_nanp(raw: str) -> bool:
    """``(702) 375-0477`` and ``+1 …`` are phone numbers by their shape alone (the NXX-NXX-XXXX
    structure is in the pattern); bare ``702-375-0477`` must also be in the numbering plan."""
    if raw.startswith(("(", "+")):
        return True
    return _in_north_american_plan(_NOT_DIGITS.sub("", raw))


def _in_north_american_plan(digits: str) -> bool:
    """Ten digits (eleven with the country code 1) valid in the North American numbering plan."""
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    # The US first: asking for any NANP region walks all 25 of them.
    return len(digits) == 10 and (_valid(1, digits, "US") or _valid(1, digits, None))


def _valid_international(raw: str) -> bool:
    """``+`` and a country code: a number of a length that country uses (test and drama ranges too)."""
    digits = _NOT_DIGITS.sub("", raw.replace("(0)", ""))
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return _possible(code, digits[size:])
    return False


@functools.lru_cache(maxsize=4096)
def _possible(country_code: int, national: str) -> bool:
    if not national:
        return False
    number = PhoneNumber(country_code=country_code, national_number=int(national))
    return phonenumbers.is_possible_number(number)


def _valid_national(raw: str) -> bool:
    digits = _NOT_DIGITS.sub("", raw)
    for region in NATIONAL_REGIONS:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        national = digits[1:] if metadata.national_prefix == "0" else digits
        if _valid(metadata.country_code, national, region):
            return True
    return False


@functools.lru_cache(maxsize=4096)
def _valid(country_code: int, national: str, region: str | None) -> bool:
    """Whether the number is valid (for ``region``, or for any region of its country code); cached,
    since a conversation repeats its numbers."""
    if not national:
        return False
    number = PhoneNumber(country_code=country_code, national_number=int(national))
    if national.startswith("0"):
        number.italian_leading_zero = True
        number.number_of_leading_zeros = len(national) - len(national.lstrip("0"))
    if region is None:
        return phonenumbers.is_valid_number(number)
    return phonenumbers.is_valid_number_for_region(number, region)
