"""What a read of the records may ask for: filters (the one list the CLI, serve's API and the UI offer), orders,
and the opaque cursors of keyset pages. Each filter turns a value into an SQL clause, or says why it cannot."""

from __future__ import annotations

import base64
from typing import Any, Callable

import orjson

MIN_TRACE_PREFIX = 4
_HEX = frozenset("0123456789abcdef")
Clause = tuple[str, tuple[Any, ...]]  # SQL with ? placeholders, and their values


def _equals(column: str) -> Callable[[str], Clause]:
    return lambda value: (f"{column} = ?", (str(value),))


def _trace(value: str) -> Clause:
    """A trace id, or at least its first 4 hex digits: the range of ids that start with them (the key's index)."""
    given = str(value).strip().lower()
    if len(given) < 32 and set(given) <= _HEX:
        if len(given) < MIN_TRACE_PREFIX:
            raise ValueError(f"trace must be a trace id or at least {MIN_TRACE_PREFIX} of its first hex digits, got {value!r}")
        return "trace_id >= ? AND trace_id < ?", (given, given + "g")  # every hex id starting with it sorts below + "g"
    return "trace_id = ?", (str(value),)


def _model(value: str) -> Clause:
    return "(model = ? OR request_model = ?)", (str(value), str(value))  # the model asked for, or the one that answered


def _min_score(value: str) -> Clause:
    points = _integer("min_score", value)
    if points > 0:  # said outright, so that either engine may read the index of scored records (records_scored)
        return "anomaly_score >= ? AND anomaly_score > 0", (points,)
    return "anomaly_score >= ?", (points,)


def _code(value: str) -> Clause:
    return "(',' || anomaly_codes || ',') LIKE ?", (f"%,{_integer('code', value)},%",)


def _integer(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


# The filters the CLI and the server's API offer (the one list of them) -> the clause a value makes.
FILTERS: dict[str, Callable[[str], Clause]] = {
    "project": _equals("project"),
    "session": _equals("session_id"),
    "user": _equals("app_user_id"),
    "trace": _trace,
    "model": _model,
    "status": _equals("status"),
    "min_score": _min_score,  # anomaly points (SPEC §9)
    "code": _code,  # one anomaly code
}
INTEGER_FILTERS = frozenset({"min_score", "code"})
ORDERS = ("time", "anomaly")  # newest first; or highest anomaly score first (one page)
STATS_ORDERS = ("requests", "critical")  # busiest groups first; or those with the most critical records


def filter_values(raw: dict[str, Any]) -> dict[str, Clause]:
    """The clause of each filter given (None: not given); ValueError says which one is bad and why."""
    found: dict[str, Clause] = {}
    for name, value in raw.items():
        if value is None:
            continue
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name!r}; known: {', '.join(FILTERS)}")
        found[name] = FILTERS[name](value)
    return found


Cursor = tuple[str, str, str, str]  # a record's place in the order: started_at, trace_id, span_id, project


def parse_cursor(text: str | None) -> Cursor | None:
    """A page cursor from its opaque text (:func:`cursor_text`); ValueError for one we did not make."""
    if not text:
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise ValueError("cursor is not one this server gave") from None
    if not isinstance(values, list) or len(values) != 4 or not all(isinstance(v, str) for v in values):
        raise ValueError("cursor is not one this server gave")
    return (values[0], values[1], values[2], values[3])


def cursor_text(cursor: Cursor) -> str:
    """A page cursor as opaque URL-safe text, for the next page's link."""
    return base64.urlsafe_b64encode(orjson.dumps(list(cursor))).decode().rstrip("=")
