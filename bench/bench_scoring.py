"""Anomaly scoring (SPEC §9): what it costs per record on the worker, by layer, and its precision and recall
per code on the labelled set of realistic calls (``tests/anomaly_corpus.py``). Prints; asserts nothing.

    .venv/bin/python bench/bench_scoring.py [--records 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from otel_aitracer._scoring import CODES, Scorer  # noqa: E402
from otel_aitracer._scoring._baselines import Baselines  # noqa: E402
from otel_aitracer._scoring._content import content_codes  # noqa: E402
from otel_aitracer._scoring._scorer import integrity_codes  # noqa: E402
from otel_aitracer._scoring._text import output_text, prompt_text  # noqa: E402
from tests.anomaly_corpus import BROKEN, CLEAN, record  # noqa: E402


def _records(n: int) -> list[dict]:
    cases = CLEAN + BROKEN
    return [record(cases[i % len(cases)], project=f"p{i % 20}", latency_ms=300 + (i * 37) % 900, cost=0.0001 * (1 + i % 5)) for i in range(n)]


def _per_record_us(step, records: list[dict], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for r in records:
            step(r)
        times.append((time.perf_counter() - started) / len(records) * 1e6)
    return statistics.median(times)


def _content(r: dict) -> None:
    output = output_text(r)
    if output is not None:
        content_codes(prompt_text(r), output, r.get("output_type") == "json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    records = _records(args.records)
    baselines = Baselines()
    layers = {
        "L1 integrity": integrity_codes,
        "L2+L3 content": _content,
        "L4 behaviour": baselines.codes,
        "all (Scorer.score)": Scorer().score,
    }
    print(f"scoring cost per record ({args.records:,} records of the labelled set's shapes, median of 5 rounds)")
    for name, step in layers.items():
        print(f"  {name:<20}{_per_record_us(step, records):>8.1f} µs")

    scorer = Scorer()
    found = {code: {"tp": 0, "fp": 0, "fn": 0} for code in CODES if CODES[code].layer in ("L2", "L3")}
    for case in CLEAN + BROKEN:
        scored = record(case)
        scorer.score(scored)
        for code, counts in found.items():
            got, want = code in scored["anomaly_codes"], code in case[3]
            counts["tp" if got and want else "fp" if got else "fn" if want else "tp"] += got or want
    print(f"\nprecision and recall per code on the labelled set ({len(CLEAN)} clean, {len(BROKEN)} broken calls)")
    for code, c in found.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else float("nan")
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else float("nan")
        print(f"  {code}  precision {precision:.2f}  recall {recall:.2f}  ({c['tp']} found, {c['fp']} false, {c['fn']} missed)  {CODES[code].meaning}")


if __name__ == "__main__":
    main()
