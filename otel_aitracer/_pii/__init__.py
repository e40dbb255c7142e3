"""PII detection and redaction (SPEC §4a): one redactor for records, span copies and the ingest server."""

from ._findings import BUILTIN_TYPES, Finding
from ._nlp import NLP_TYPES
from ._redactor import ACTIONS, PIIRedactor
from ._secrets import is_secret_key

__all__ = ["ACTIONS", "BUILTIN_TYPES", "NLP_TYPES", "Finding", "PIIRedactor", "is_secret_key"]
