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
    content = {field: record[field] for field in CONTENT_FIELDS if record.get(field) is not None}
    if not content:
        return record
    counts: dict[str, int] = {}
    unclean = redactor.unclean(content)  # one pass over them all: most records are clean
    for field, value in content.items():
        if field in unclean:
            record[field] = redactor.redact_into(value, counts)
    if counts:
        record["pii"] = dict(sorted(counts.items()))
    return record
