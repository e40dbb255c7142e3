"""L2 (intent) and L3 (shape): does the answer have the form the prompt asked for?

Each check fires only on a clear request in the prompt and a clear miss in the output: a noisy detector
gets switched off, so precision comes before recall (fenced JSON counts as JSON, "Yes, because…" as yes,
an allowed value anywhere in the answer as that value).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

_JSON_ASKED = re.compile(
    r"\b(?:respond|reply|answer|return|output|format)\w*\b[^.\n]{0,60}?\bJSON\b"
    r"|\b(?:only|valid|strict|raw|pure)\s+JSON\b|\bJSON\s+only\b|\b(?:as|in)\s+JSON\b",
    re.IGNORECASE,
)
_YES_NO_ASKED = re.compile(r"\b(?:yes\s*(?:/|or|\|)\s*no|no\s*(?:/|or|\|)\s*yes)\b", re.IGNORECASE)
_YES_NO = {"yes", "no"}
_ONE_OF = re.compile(
    r"\b(?:one\s+of|choose\s+(?:from|between|among))(?:\s+the\s+following)?(?:\s+(?:values|options|labels|categories|words|answers))?"
    r"\s*(?P<colon>:)?\s*(?P<listed>[^.\n?]+)",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[\"'`“‘]([^\"'`”’\n]{1,40})[\"'`”’]")
_SEPARATORS = re.compile(r"\s*(?:,|/|\||\bor\b|\band\b)\s*", re.IGNORECASE)
_WORD_LIMIT = re.compile(
    r"(?:\b(?:in|within|under|at\s+most|no\s+more\s+than|not\s+(?:more\s+than|exceeding)|maximum(?:\s+of)?|max\.?|fewer\s+than|less\s+than|up\s+to)\s+(\d{1,5})\s+words?\b"
    r"|\b(\d{1,5})\s+words?\s+(?:or\s+(?:less|fewer)|max(?:imum)?|at\s+most)\b)"
    r"(?!\s+(?:per|each|for\s+each|in\s+each|a\s+piece)\b)",  # "at most 5 words per bullet" limits no whole answer
    re.IGNORECASE,
)
_KEYS_NAMED = re.compile(r"\b(?:keys?|fields?|properties)\s*(?:named|called)?\s*[:\-]?\s*((?:[\"'`][\w.\-]{1,40}[\"'`][\s,]*(?:and|or)?\s*)+)", re.IGNORECASE)
_FENCE = re.compile(r"^```[\w-]*\s*\n?(.*?)\n?```$", re.DOTALL)
_OPEN = {"{": "}", "[": "]", "(": ")"}


class Requests(NamedTuple):
    """What a prompt asks of the answer's form (a function of the prompt alone, so kept per prompt)."""

    json: bool  # respond in JSON
    yes_no: bool  # answer yes or no
    allowed: tuple[str, ...]  # answer one of these values
    keys: frozenset[str]  # the JSON object's keys
    word_limit: int | None  # at most this many words


def content_codes(prompt: str, output: str, json_format: bool) -> list[int]:
    """The L2 and L3 codes for ``output`` given ``prompt`` (``json_format``: the request set a JSON response format)."""
    codes: list[int] = []
    asked = requests_in(prompt)
    body = _unfenced(output)
    json_asked = json_format or asked.json
    parsed, is_json = _json(body) if json_asked or body[:1] in "{[" else (None, False)
    if json_asked and not is_json:
        codes.append(2001)
    if asked.yes_no and not json_asked and _first_word(body) not in _YES_NO:
        codes.append(2002)
    if asked.allowed and not json_asked and not any(_contains(body, value) for value in asked.allowed):
        codes.append(2003)
    if (json_asked or body[:1] in "{[") and not is_json and not _balanced(body):
        codes.append(3001)
    if json_asked and isinstance(parsed, dict) and asked.keys - set(parsed):
        codes.append(3002)
    if asked.word_limit is not None and len(body.split()) > asked.word_limit:
        codes.append(3003)
    return codes


def requests_in(prompt: str) -> Requests:
    """What ``prompt`` asks for. System prompts and conversations come back on every call, so a prompt's
    requests are read once (:data:`_KEPT_PROMPTS` of them, up to :data:`_KEPT_PROMPT_CHARS` long)."""
    return _kept_requests(prompt) if len(prompt) <= _KEPT_PROMPT_CHARS else _requests(prompt)


def _requests(prompt: str) -> Requests:
    """Each request is looked for only when its key word is in the prompt at all: most prompts ask for none."""
    lower = prompt.lower()
    json_asked = "json" in lower and bool(_JSON_ASKED.search(prompt))
    return Requests(
        json=json_asked,
        yes_no="yes" in lower and bool(_YES_NO_ASKED.search(prompt)),
        allowed=tuple(_allowed_values(prompt)) if "one of" in lower or "choose" in lower else (),
        keys=frozenset(_keys_named(prompt)) if "{" in prompt or any(word in lower for word in _KEY_WORDS) else frozenset(),
        word_limit=_word_limit(prompt) if "word" in lower else None,
    )


_KEY_WORDS = ("key", "field", "propert")  # what :data:`_KEYS_NAMED` needs in a prompt
_KEPT_PROMPTS = 512
_KEPT_PROMPT_CHARS = 16_384
_kept_requests = lru_cache(maxsize=_KEPT_PROMPTS)(_requests)


def _unfenced(output: str) -> str:
    text = output.strip()
    match = _FENCE.match(text)
    return match.group(1).strip() if match else text


def _json(text: str) -> tuple[Any, bool]:
    if text[:1] not in '{["' and not text[:1].isdigit() and text not in ("true", "false", "null"):
        return None, False
    try:
        return orjson.loads(text), True
    except orjson.JSONDecodeError:
        return None, False


def _first_word(text: str) -> str:
    match = re.match(r"\W*(\w+)", text)
    return match.group(1).lower() if match else ""


def _allowed_values(prompt: str) -> list[str]:
    """The values a prompt says the answer must be one of: quoted ("one of 'a', 'b'"), after a colon or in
    brackets ("one of: a, b or c", "one of [a, b]"); at least two, each a word or two. Else []."""
    for match in _ONE_OF.finditer(prompt):
        listed = match.group("listed")
        quoted = _QUOTED.findall(listed)
        if len(quoted) >= 2:
            return quoted
        bracketed = re.match(r"\s*[\[({]([^\])}]+)[\])}]", listed)
        if match.group("colon") or bracketed:
            values = [v.strip(" \"'`") for v in _SEPARATORS.split(bracketed.group(1) if bracketed else listed)]
            if len(values) >= 2 and all(v and len(v.split()) <= 2 for v in values):
                return values
    return []


def _contains(text: str, value: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE) is not None


def _balanced(text: str) -> bool:
    """Brackets closed in order and quotes closed, outside strings."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in _OPEN:
            stack.append(_OPEN[char])
        elif char in ")]}":
            if not stack or stack.pop() != char:
                return False
    return not stack and not in_string


def _keys_named(prompt: str) -> set[str]:
    """Keys a prompt requires: named in a phrase ("keys "a" and "b"") or the top-level keys of a JSON example."""
    for match in _KEYS_NAMED.finditer(prompt):
        found = set(_QUOTED.findall(match.group(1)))
        if found:
            return found
    for example in _json_objects(prompt):
        if example:
            return set(example)
    return set()


def _json_objects(text: str) -> list[dict[str, Any]]:
    """The JSON objects written out in ``text`` (an example of the answer's shape)."""
    found: list[dict[str, Any]] = []
    start = text.find("{")
    while start != -1 and len(found) < 3:
        depth = 0
        for end in range(start, min(len(text), start + 5000)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                parsed, ok = _json(text[start : end + 1])
                if ok and isinstance(parsed, dict):
                    found.append(parsed)
                break
        start = text.find("{", start + 1)
    return found


def _word_limit(prompt: str) -> int | None:
    limits = [int(a or b) for a, b in _WORD_LIMIT.findall(prompt)]
    return min(limits) if limits else None
