"""Scoring a detector on a labelled set: precision and recall per type, and how often each kind of hard
negative was flagged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .pii_corpus import TYPES, Sample

Detection = tuple[str, int, int]  # (type, start, end)


@dataclass
class Scores:
    precision: dict[str, float]
    recall: dict[str, float]
    negative_rate: dict[str, float]  # share of each hard-negative kind that was flagged
    misses: dict[str, list[str]]  # type -> missed values (for diagnosis)
    false_alarms: list[tuple[str, str]]  # (type, flagged text)


def evaluate(detect: Callable[[str], list[Detection]], samples: list[Sample], types: tuple[str, ...] = TYPES) -> Scores:
    """Per-type precision and recall, and the flag rate of every hard-negative kind."""
    tp: dict[str, int] = {t: 0 for t in types}
    fp: dict[str, int] = {t: 0 for t in types}
    found: dict[str, int] = {t: 0 for t in types}
    total: dict[str, int] = {t: 0 for t in types}
    neg_hit: dict[str, int] = {}
    neg_total: dict[str, int] = {}
    misses: dict[str, list[str]] = {t: [] for t in types}
    false_alarms: list[tuple[str, str]] = []
    for sample in samples:
        detections = [d for d in detect(sample.text) if d[0] in types]
        for kind, start, end in sample.positives:
            total[kind] += 1
            if any(d[0] == kind and d[1] < end and start < d[2] for d in detections):
                found[kind] += 1
            else:
                misses[kind].append(sample.text[start:end])
        for kind, start, end in detections:
            if any(p[0] == kind and p[1] < end and start < p[2] for p in sample.positives):
                tp[kind] += 1
            else:
                fp[kind] += 1
                false_alarms.append((kind, sample.text[start:end]))
        for kind, start, end in sample.negatives:
            neg_total[kind] = neg_total.get(kind, 0) + 1
            if any(d[1] < end and start < d[2] for d in detections):
                neg_hit[kind] = neg_hit.get(kind, 0) + 1
    return Scores(
        precision={t: tp[t] / (tp[t] + fp[t]) if tp[t] + fp[t] else 1.0 for t in types},
        recall={t: found[t] / total[t] if total[t] else 1.0 for t in types},
        negative_rate={k: neg_hit.get(k, 0) / n for k, n in sorted(neg_total.items())},
        misses=misses,
        false_alarms=false_alarms,
    )
