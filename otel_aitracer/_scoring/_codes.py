"""The anomaly codes (SPEC §9): what each means and what it weighs. The one list of them."""

from __future__ import annotations

from dataclasses import dataclass

from .._record_kinds import CRITICAL


@dataclass(frozen=True)
class Code:
    layer: str
    points: int  # L4 codes: the least they weigh (up to :data:`L4_MAX_POINTS` the further past the threshold)
    meaning: str


CODES: dict[int, Code] = {
    1001: Code("L1", 100, "the call failed (status error)"),
    1007: Code("L1", 100, "the reported total token count differs from input + output"),
    1008: Code("L1", 100, "no output and an error message"),
    2001: Code("L2", 50, "JSON was asked for and the output is not valid JSON"),
    2002: Code("L2", 50, "a yes/no answer was asked for and the output is prose"),
    2003: Code("L2", 50, "the prompt lists allowed values and the output is none of them"),
    3001: Code("L3", 30, "unbalanced brackets or quotes in a structured output"),
    3002: Code("L3", 30, "keys the prompt names are missing from the JSON output"),
    3003: Code("L3", 30, "the output breaks the prompt's word limit"),
    4001: Code("L4", 10, "latency above the project's threshold"),
    4002: Code("L4", 10, "cost above the project's threshold"),
    4003: Code("L4", 10, "output/input token ratio far above the project's usual"),
    4004: Code("L4", 10, "a stall: long latency with very few output tokens"),
}
L4_MAX_POINTS = 25
WARNING = 1


def label(score: int) -> str:
    """The score's label in a ``gen_ai.evaluation.result`` event and in alerts."""
    return "critical" if score >= CRITICAL else "warning" if score >= WARNING else "ok"


def explanation(codes: list[int]) -> str:
    return "; ".join(f"{code} {CODES[code].meaning}" for code in codes) or "no anomaly"
