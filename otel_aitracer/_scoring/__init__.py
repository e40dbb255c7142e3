"""Anomaly scores (SPEC §9, after trace.ai's engine): every record scored as it is written, in process and in serve.

L1 integrity, L2 intent and L3 shape read the record (its redacted prompt and output: they work with PII
redaction on; without content capture only L1 and L4 apply), L4 behaviour compares it with its project's
recent calls (:mod:`._baselines`).
"""

from ._codes import CODES, CRITICAL, explanation, label
from ._scorer import Scorer

__all__ = ["CODES", "CRITICAL", "Scorer", "explanation", "label"]
