"""PII detection: throughput, per-message latency and accuracy, ours against peers, in one run.

Detectors compared on the same text and the same labeled set (``tests/pii_corpus.py``):

- ours: ``otel_aitracer.PIIRedactor`` (default types), with its Hyperscan prefilter and without it
  (the pure-Python path, what runs where Hyperscan has no wheel);
- ours as it was at ``--previous`` (a git revision, by default the last one before issue 15),
  unpacked with ``git archive`` and run in a subprocess on the same text;
- the AITracer SDK's ``aitracer.pii.PIIDetector`` (1.8.0);
- Presidio's pattern recognizers (email, phone, card, US SSN, IP, IBAN; no NLP model);
- one stdlib ``re`` alternation of textbook patterns.

The peers live in their own virtualenv (``bench/.venv-peers``, created and filled by
pip on first use, or pass ``--no-peers``); they run in a subprocess of that venv
and report back as JSON. Prints tables; asserts nothing.

    .venv/bin/python bench/bench_pii.py [--megabytes 3] [--no-peers]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if "--previous-worker" in sys.argv:  # the previous implementation's package, unpacked here, comes first
    sys.path.insert(0, sys.argv[sys.argv.index("--previous-worker") + 1])
PREVIOUS = "941ac1d"  # the last revision before issue 15

from tests.pii_corpus import clean_chat_text, generate, with_pii  # noqa: E402
from tests.pii_scoring import Detection, evaluate  # noqa: E402

PEER_VENV = ROOT / "bench" / ".venv-peers"
PEER_PACKAGES = ["aitracer==1.8.0", "presidio-analyzer", "faker", "phonenumbers", "orjson"]
TYPES = ("email", "phone", "credit_card", "ssn", "ip_address", "iban", "secret")
Detector = Callable[[str], list[Detection]]

_NAIVE = re.compile(
    r"(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})"
    r"|(?P<credit_card>\b(?:\d[ -]?){13,19}\b)"
    r"|(?P<ssn>\b\d{3}-\d{2}-\d{4}\b)"
    r"|(?P<ip_address>\b(?:\d{1,3}\.){3}\d{1,3}\b)"
    r"|(?P<iban>\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,8}\b)"
    r"|(?P<secret>\b(?:sk-|ghp_|AKIA|AIza|xox[bp]-)[A-Za-z0-9_\-]{16,})"
    r"|(?P<phone>\+?\d[\d ().-]{7,}\d)"
)


def naive_detector() -> Detector:
    return lambda text: [(m.lastgroup or "", m.start(), m.end()) for m in _NAIVE.finditer(text)]


def ours_detector(prefilter: bool = True) -> Detector:
    from otel_aitracer import PIIRedactor
    from otel_aitracer._pii._scanner import scan

    redactor = PIIRedactor()
    return lambda text: [(f.type, f.start, f.end) for f in scan(text, redactor.types, {}, prefilter=prefilter)]


def previous_detector() -> Detector:
    from otel_aitracer import PIIRedactor

    redactor = PIIRedactor()
    return lambda text: [(f.type, f.start, f.end) for f in redactor.scan(text)]


def aitracer_detector() -> Detector:
    from aitracer.pii import PIIDetector

    detector = PIIDetector(enabled_types=["email", "phone", "credit_card", "ssn", "ip_address"])
    return lambda text: [(m.pii_type, m.start, m.end) for m in detector.detect(text)]


def presidio_detector() -> Detector:
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    recognizers = [
        (EmailRecognizer(), "EMAIL_ADDRESS", "email"),
        (PhoneRecognizer(), "PHONE_NUMBER", "phone"),
        (CreditCardRecognizer(), "CREDIT_CARD", "credit_card"),
        (UsSsnRecognizer(), "US_SSN", "ssn"),
        (IpRecognizer(), "IP_ADDRESS", "ip_address"),
        (IbanRecognizer(), "IBAN_CODE", "iban"),
    ]

    def detect(text: str) -> list[Detection]:
        found = []
        for recognizer, entity, ours in recognizers:
            for result in recognizer.analyze(text, [entity], None):
                if result.score >= 0.4:
                    found.append((ours, result.start, result.end))
        return found

    return detect


def measure(name: str, detect: Detector, clean: str, dirty: str, evasive: str, messages: list[str], samples, supports=TYPES, reset=lambda: None) -> dict:
    """MB/s on clean text, 3 %-PII text and the same with some values in evasive forms, p99 µs per chat
    message, precision / recall per type.

    ``reset`` runs before each timed pass, so no detector keeps what it learned from the last one."""
    result: dict = {"name": name, "supports": list(supports)}
    for key, text in (("clean_mb_s", clean), ("pii3_mb_s", dirty), ("evasive_mb_s", evasive)):
        best = min((reset(), _timed(detect, text))[1] for _ in range(3))
        result[key] = len(text.encode()) / best / 1e6
    latencies = sorted(_timed(detect, m) * 1e6 for m in messages)
    result["p99_us"] = latencies[int(len(latencies) * 0.99) - 1]
    result["median_us"] = statistics.median(latencies)
    scores = evaluate(detect, samples, TYPES)
    result["precision"], result["recall"] = scores.precision, scores.recall
    result["worst_negative"] = max(scores.negative_rate.items(), key=lambda kv: kv[1])
    return result


def _timed(detect: Detector, text: str) -> float:
    start = time.perf_counter()
    detect(text)
    return time.perf_counter() - start


def conversation_cost(messages: list[str], turns: int = 30) -> tuple[float, float]:
    """µs per call to redact a growing conversation (every call resends all earlier turns),
    with one long-lived redactor (its cache skips the repeated prefix) and with a fresh one each call."""
    from otel_aitracer import PIIRedactor

    history = [{"role": "user" if i % 2 else "assistant", "content": messages[i % len(messages)]} for i in range(turns)]
    cached = PIIRedactor()
    timings: dict[str, float] = {"cached": 0.0, "fresh": 0.0}
    for n in range(1, turns + 1):
        for key, redactor in (("cached", cached), ("fresh", PIIRedactor())):
            start = time.perf_counter()
            redactor.redact_value({"messages": history[:n]})
            timings[key] += time.perf_counter() - start
    return timings["cached"] / turns * 1e6, timings["fresh"] / turns * 1e6


def nlp_overhead(text: str) -> float | None:
    """MB/s of the optional NLP types with the lightest possible spaCy pipeline: Presidio's own cost."""
    try:
        import spacy
    except ImportError:
        return None
    import tempfile

    from otel_aitracer import PIIRedactor

    with tempfile.TemporaryDirectory() as tmp:
        nlp = spacy.blank("en")
        nlp.add_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": "Jane Doe"}])
        nlp.to_disk(tmp)
        redactor = PIIRedactor(types=["person", "street_address"], nlp_model=tmp)
        return len(text.encode()) / _timed(lambda t: redactor.scan(t), text) / 1e6


def names_by_rules(text: str) -> str:
    """P/R of ``person``/``street_address`` by rules on their labeled set, and MB/s on chat text."""
    from otel_aitracer import PIIRedactor
    from tests.pii_names_corpus import names_and_addresses

    redactor = PIIRedactor(types=["person", "street_address"])
    scores = evaluate(lambda t: [(f.type, f.start, f.end) for f in redactor.scan(t)], names_and_addresses(), ("person", "street_address"))
    rate = len(text.encode()) / _timed(redactor.scan, text) / 1e6
    cells = ", ".join(f"{t} P {scores.precision[t]:.3f} R {scores.recall[t]:.3f}" for t in ("person", "street_address"))
    return f"{cells}; {rate:.1f} MB/s"


def _inputs(megabytes: float):
    clean = clean_chat_text(megabytes)
    dirty = with_pii(clean, 0.03)
    evasive = with_pii(clean, 0.03, evasive=True)
    messages = [m for m in clean.split("\n") if m][:3000]
    return clean, dirty, evasive, messages, generate(1500)


def _previous_results(revision: str, megabytes: float) -> list[dict]:
    """The same measurements of ``otel_aitracer`` as it was at ``revision``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "otel_aitracer"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        out = subprocess.run(
            [sys.executable, __file__, "--previous-worker", tmp, "--previous", revision, "--megabytes", str(megabytes)], capture_output=True, text=True, cwd=tmp
        )
    if out.returncode != 0:
        print("previous implementation failed:\n" + out.stderr[-2000:])
        return []
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peer_results(megabytes: float) -> list[dict]:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PEER_VENV} with {', '.join(PEER_PACKAGES)} (first run only)…", flush=True)
        venv.create(PEER_VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    out = subprocess.run([str(python), __file__, "--peer-worker", "--megabytes", str(megabytes)], capture_output=True, text=True)
    if out.returncode != 0:
        print("peers failed:\n" + out.stderr[-2000:])
        return []
    return json.loads(out.stdout.strip().splitlines()[-1])


def _print(results: list[dict]) -> None:
    print(f"\n{'detector':<26}{'clean MB/s':>11}{'3% PII MB/s':>13}{'+ evasions':>12}{'p99 µs/msg':>12}{'median µs':>11}  worst hard negative")
    for r in results:
        kind, rate = r["worst_negative"]
        print(f"{r['name']:<26}{r['clean_mb_s']:>11.1f}{r['pii3_mb_s']:>13.1f}{r['evasive_mb_s']:>12.1f}{r['p99_us']:>12.1f}{r['median_us']:>11.1f}  {kind} {rate:.1%}")
    print(f"\n{'precision / recall':<26}" + "".join(f"{t:>17}" for t in TYPES))
    for r in results:
        cells = "".join(f"{r['precision'][t]:>8.3f} / {r['recall'][t]:.3f}" if t in r["supports"] else f"{'n/a':>17}" for t in TYPES)
        print(f"{r['name']:<26}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=3.0)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--previous", default=PREVIOUS, help="git revision of ours to compare with (default: %(default)s)")
    parser.add_argument("--peer-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--previous-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    clean, dirty, evasive, messages, samples = _inputs(args.megabytes)
    if args.previous_worker:
        import otel_aitracer

        assert otel_aitracer.__file__.startswith(args.previous_worker), otel_aitracer.__file__
        print(json.dumps([measure(f"  … at {args.previous}", previous_detector(), clean, dirty, evasive, messages, samples)]))
        return
    if args.peer_worker:
        results = [measure("aitracer 1.8.0 PIIDetector", aitracer_detector(), clean, dirty, evasive, messages, samples, TYPES[:5])]
        results.append(measure("presidio patterns", presidio_detector(), clean, dirty, evasive, messages, samples, TYPES[:6]))
        print(json.dumps(results))
        return
    print(f"text: {len(clean.encode()) / 1e6:.1f} MB clean, {len(dirty.encode()) / 1e6:.1f} MB with 3% PII; {len(messages)} messages; {len(samples)} labeled samples")
    from otel_aitracer._pii._phones import _valid

    results = [measure("otel-aitracer PIIRedactor", ours_detector(), clean, dirty, evasive, messages, samples, reset=_valid.cache_clear)]
    results.append(measure("  … pure Python", ours_detector(prefilter=False), clean, dirty, evasive, messages, samples, reset=_valid.cache_clear))
    results += _previous_results(args.previous, args.megabytes)
    results.append(measure("stdlib re alternation", naive_detector(), clean, dirty, evasive, messages, samples))
    if not args.no_peers:
        results += _peer_results(args.megabytes)
    _print(results)
    nlp = nlp_overhead(clean[:300_000])
    if nlp is not None:
        print(f"\nwith person/street_address (Presidio over a spaCy pipeline without a statistical model): {nlp:.2f} MB/s;"
              " a real model (en_core_web_lg) costs more on top")
    print(f"\nperson/street_address by rules (no model): {names_by_rules(clean[:1_000_000])}")
    cached, fresh = conversation_cost([m for m in messages if len(m) > 200])
    print(f"\n30-turn conversation, whole history redacted on every call: {cached:.0f} µs/call with the cache, {fresh:.0f} µs/call without")


if __name__ == "__main__":
    main()
