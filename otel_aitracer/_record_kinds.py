"""What kind of record a record is: which GenAI operations are calls, answers and runs, and from how many anomaly
points one is critical. The one list every layer reads (stamping, mapping, the audit trail, scores, alerts, the
stores' rollups, serve, the CLI and the UI)."""

from __future__ import annotations

from typing import Any, Mapping

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

_OP = GenAI.GenAiOperationNameValues
# Calls to a model: a record of one is a request (its tokens, cost and latency are its own).
MODEL_CALLS = frozenset(op.value for op in (_OP.CHAT, _OP.GENERATE_CONTENT, _OP.TEXT_COMPLETION, _OP.EMBEDDINGS))
# Model calls that answer a prompt: what feedback is about and what the content checks read (not embeddings).
ANSWERS = MODEL_CALLS - {_OP.EMBEDDINGS.value}
# A run's own spans, around its steps; their usage, when they carry any, is their calls' total.
RUNS = frozenset({_OP.INVOKE_WORKFLOW.value, _OP.INVOKE_AGENT.value})
WORKFLOW = _OP.INVOKE_WORKFLOW.value
TOOL = _OP.EXECUTE_TOOL.value
CRITICAL = 100  # anomaly points from which a record is critical (SPEC §9): one L1 code is enough


def operation_of(record: Mapping[str, Any]) -> str:
    """A record's operation; a record without one is a call (the AITracer format has none)."""
    return str(record.get("operation") or _OP.CHAT.value)
