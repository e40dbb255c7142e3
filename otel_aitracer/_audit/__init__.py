"""The audit trail of agent runs: a span mirror and hash-chained decision records (SPEC §8)."""

from ._chain import verify
from ._trail import AuditTrail, SpanStart

__all__ = ["AuditTrail", "SpanStart", "verify"]
