"""One record in, its anomaly score and codes out (SPEC §9): the four layers, in the order they are cheap."""

from __future__ import annotations

from typing import Any, Mapping

from .._record_kinds import ANSWERS, operation_of
from ._baselines import Baselines
from ._codes import CODES
from ._content import content_codes
from ._text import output_text, prompt_text

_JSON_OUTPUT = "json"


class Scorer:
    """Scores records as they are written (the pipeline's worker, serve's ingest), never on the app's thread."""

    def __init__(self, thresholds: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.baselines = Baselines(thresholds)

    def score(self, record: dict[str, Any], learn: bool = True) -> None:
        """:meth:`judge` ``record``, then (if ``learn``) let the call join its project's baseline."""
        self.judge(record)
        if learn:
            self.learn(record)

    def judge(self, record: dict[str, Any]) -> None:
        """Set ``anomaly_score`` (points) and ``anomaly_codes`` (ascending) on ``record``, in place, against its
        project's baseline as it stands; the baseline does not change."""
        found = [(code, CODES[code].points) for code in integrity_codes(record)]
        if operation_of(record) in ANSWERS:  # L2/L3 judge an answer's text, L4 its behaviour (not embeddings, tools or agents)
            output = output_text(record)
            prompt = prompt_text(record) if output is not None else ""
            if prompt:
                found += [(code, CODES[code].points) for code in content_codes(prompt, output or "", record.get("output_type") == _JSON_OUTPUT)]
            found += self.baselines.codes(record)
        record["anomaly_codes"] = sorted(code for code, _ in found)
        record["anomaly_score"] = sum(points for _, points in found)

    def learn(self, record: dict[str, Any]) -> None:
        """The judged call joins its project's baseline (a successful answer; once per call)."""
        if operation_of(record) in ANSWERS:
            self.baselines.learn(record)


def integrity_codes(record: dict[str, Any]) -> list[int]:
    """L1: a failed call, a total that does not add up, an error with no output."""
    codes = []
    if record.get("status") == "error":
        codes.append(1001)
    total = record.get("total_tokens")
    if isinstance(total, int) and total != (record.get("input_tokens") or 0) + (record.get("output_tokens") or 0):
        codes.append(1007)
    if record.get("output") in (None, "", {}) and record.get("error_message"):
        codes.append(1008)
    return codes
