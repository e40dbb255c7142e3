"""A byte budget per record, so one huge prompt or tool output cannot stall a batch or be rejected whole.

Over budget, the longest strings of the content fields are cut to a common
length (chosen by bisection so the field fits), each ending with a marker that
gives its original size; the record lists the original size of every field it
cut under ``truncated``. Runs after redaction, so no PII value is half-cut.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._pii._records import CONTENT_FIELDS
from ._record import encoded_size

_MARKER = "…[truncated: {} bytes]"


def fit_record(record: dict[str, Any], max_bytes: int) -> bool:
    """Shrink ``record``'s content in place until it encodes in ``max_bytes``; False if nothing was cut.

    Raises :class:`~otel_aitracer._recording._record.UnencodableRecord` for a record JSON cannot encode."""
    total = encoded_size(record)
    if total <= max_bytes:
        return False
    sizes = {f: len(orjson.dumps(record[f], default=str)) for f in CONTENT_FIELDS if record.get(f) is not None}
    record["truncated"] = dict(sizes)  # its largest form, so the budget holds once it is filled in
    total = len(orjson.dumps(record, default=str))
    truncated: dict[str, int] = {}
    for field in sorted(sizes, key=sizes.__getitem__, reverse=True):
        excess = total - max_bytes
        if excess <= 0:
            break
        target = max(0, sizes[field] - excess)
        record[field] = _shrunk(record[field], target) or {"truncated": True, "original_bytes": sizes[field]}
        truncated[field] = sizes[field]
        total = len(orjson.dumps(record, default=str))
    record["truncated"] = truncated
    return True


def _shrunk(value: Any, target: int) -> Any | None:
    """``value`` with its strings cut to one common length so it encodes in ``target`` bytes; None if impossible."""
    lo, hi = 0, max((len(s) for s in _strings(value)), default=0)
    if len(orjson.dumps(_cut(value, 0), default=str)) > target:
        return None
    while lo < hi:  # the longest cap that still fits
        mid = (lo + hi + 1) // 2
        if len(orjson.dumps(_cut(value, mid), default=str)) <= target:
            lo = mid
        else:
            hi = mid - 1
    return _cut(value, lo)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _cut(value: Any, cap: int) -> Any:
    if isinstance(value, str):
        if len(value) <= cap:
            return value
        return value[:cap] + _MARKER.format(len(value.encode()))
    if isinstance(value, dict):
        return {k: _cut(v, cap) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cut(v, cap) for v in value]
    return value
