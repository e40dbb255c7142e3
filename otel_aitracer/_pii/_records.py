"""Redaction of AITracer records: the content fields, before any sink or spool sees them."""

from __future__ import annotations

from typing import Any

from ._redactor import PIIRedactor

# What of a record is content, written by or about the user: redacted and fitted to the byte budget.
CONTENT_FIELDS = ("input", "output", "error_message", "metadata", "events")


def redact_record(record: dict[str, Any], redactor: PIIRedactor) -> dict[str, Any]:
    """Redact ``record``'s content fields in place and add ``pii``: counts by type, never values. A field the
    redactor's screen finds clean is left as it is (no copy, no walk): PII in a prompt does not cost a walk of the
    answer."""
    counts: dict[str, int] = {}
    for field in CONTENT_FIELDS:
        value = record.get(field)
        if value is not None and not redactor.clean(value):
            record[field] = redactor.redact_into(value, counts)
    if counts:
        record["pii"] = dict(sorted(counts.items()))
    return record
