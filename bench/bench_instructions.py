"""Instructions per span of each serve ingest stage, counted by valgrind's callgrind.

Time on this machine drifts by a fifth between runs, so a change of a few percent cannot be seen in
µs; the number of instructions a stage executes is the same on every run (within 0.5 %). Each stage
runs in a process of its own under ``valgrind --tool=callgrind --instr-atstart=no``; the process
makes the stage's inputs, warms up, then counts the stage over 4 and over 8 requests of 512 spans
(``bench_server.py``'s bodies): the difference, per span, is the stage's marginal cost, without the
process's start and the count's own start and stop. Syscalls (the store's writes) and the kernel's
time are not instructions of the process: the ``write`` stage counts SQLite's own work only.

``--against REF`` counts a commit too (checked out in a temporary git worktree, with this
checkout's bench and the same virtualenv), stage by stage where that commit has the stage's code.
Needs ``valgrind`` (Debian: ``apt-get install valgrind``). Prints a table; asserts nothing.

    .venv/bin/python bench/bench_instructions.py [--against REF] [--stages decode map ...]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
SPANS_PER_REQUEST = 512
WARM_REQUESTS = 6
COUNTS = (4, 8)  # requests counted; their difference is what one more request costs
# Stages in the order ingest runs them: gzip + protobuf -> spans; span -> record (priced); check + redact + budget;
# anomaly judgement and the baselines' count; record -> row; the transaction (settle, insert, rollups, commit);
# and the whole of Ingest.otlp_together, two requests at a time, as serve takes them.
STAGES = ("decode", "map", "prepare", "score", "rows", "write", "ingest")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", help="a git commit to count too, stage by stage")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--child", nargs=2, metavar=("STAGE", "REQUESTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _count_stage(args.child[0], int(args.child[1]))
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("bench_instructions.py needs valgrind (Debian: apt-get install valgrind)")
    trees = {"this checkout": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        if args.against:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", f"{tmp}/tree", args.against], check=True)
            trees[args.against] = Path(tmp) / "tree"
        try:
            counted = {name: _count_tree(tree, args.stages) for name, tree in trees.items()}
        finally:
            if args.against:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", f"{tmp}/tree"], check=False)
    _print_table(counted, args.stages)


def _print_table(counted: dict[str, dict[str, float]], stages: list[str]) -> None:
    names = list(counted)
    print(f"thousands of instructions per span ({SPANS_PER_REQUEST} spans a request, {COUNTS[1]} requests minus {COUNTS[0]})")
    print("| stage | " + " | ".join(names) + (" | change |" if len(names) == 2 else " |"))
    print("|---" * (len(names) + 1 + (len(names) == 2)) + "|")
    for stage in stages:
        values = [counted[name].get(stage) for name in names]
        cells = [f"{v / 1000:,.1f}" if v is not None else "n/a" for v in values]
        if len(values) == 2:
            first, second = values
            cells.append(f"{(first - second) / second * 100:+.1f} %" if first is not None and second is not None else "")
        print(f"| {stage} | " + " | ".join(cells) + " |")


def _count_tree(tree: Path, stages: list[str]) -> dict[str, float]:
    """Each stage's marginal instructions per span, with ``tree``'s otel_aitracer (None where it has no such stage)."""
    jobs = [(stage, n) for stage in stages for n in COUNTS]
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        totals = dict(zip(jobs, pool.map(lambda job: _valgrind(tree, *job), jobs)))
    per_span = {}
    for stage in stages:
        fewer, more = totals[(stage, COUNTS[0])], totals[(stage, COUNTS[1])]
        if fewer is not None and more is not None:
            per_span[stage] = (more - fewer) / ((COUNTS[1] - COUNTS[0]) * SPANS_PER_REQUEST)
    return per_span


def _valgrind(tree: Path, stage: str, requests: int) -> int | None:
    """Instructions the child counted (None: the tree lacks the stage's code)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={tmp}/out",
                   sys.executable, str(Path(__file__).resolve()), "--child", stage, str(requests)]  # fmt: skip
        done = subprocess.run(command, env={**os.environ, "BENCH_TREE": str(tree)}, capture_output=True, text=True, cwd=tmp)
    if done.returncode == 3:
        return None
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{stage} ({tree}) failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return int(found.group(1))


# ---- the child: one stage, counted under callgrind -------------------------------------------------


def _count_stage(stage: str, requests: int) -> None:
    """Make the stage's inputs for warm-up and ``requests`` requests, run the warm-up, then count the stage alone."""
    import gc

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_server import build_bodies  # puts this checkout first on the path

    tree = Path(os.environ.get("BENCH_TREE", str(ROOT)))
    sys.path.insert(0, str(tree))  # the tree counted goes before it
    import otel_aitracer

    assert Path(otel_aitracer.__file__).resolve().is_relative_to(tree.resolve()), otel_aitracer.__file__
    try:
        run = _stage(stage, build_bodies(WARM_REQUESTS + max(COUNTS)))  # the same inputs whatever is counted
    except (ImportError, AttributeError):
        sys.exit(3)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)  # as a serve worker sets them
    run(range(0, WARM_REQUESTS))
    _instrument("on")
    run(range(WARM_REQUESTS, WARM_REQUESTS + requests))
    _instrument("off")
    os._exit(0)  # no teardown: freeing what was made costs what the inputs cost, not what the stage does


def _instrument(state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, stdout=subprocess.DEVNULL)


def _stage(stage: str, bodies: list[bytes]) -> Callable[[range], None]:
    """A function that runs ``stage`` over the requests numbered in its argument, whose inputs are made here."""
    from zlib_ng import gzip_ng

    from otel_aitracer._config import resolve_settings
    from otel_aitracer._destinations._store import SQLiteStore
    from otel_aitracer._recording._mapping import span_to_record
    from otel_aitracer._recording._pipeline import RecordPipeline
    from otel_aitracer.server._auth import OPEN
    from otel_aitracer.server._ingest import Ingest, Outcome, _Batch
    from otel_aitracer.server._otlp import parse_request, spans

    tmp = Path(tempfile.mkdtemp())
    store = SQLiteStore(tmp / "bench.db", cache_mib=32)
    pipeline = RecordPipeline(resolve_settings(store=tmp / "bench.db"), sink=store)
    ingest = Ingest(store, pipeline)

    def decoded(i: int) -> list[Any]:
        return list(spans(parse_request(gzip_ng.decompress(bodies[i]), "application/x-protobuf")))

    def mapped(i: int) -> list[dict[str, Any]]:
        return [span_to_record(span) for span in decoded(i)]

    def prepared(i: int) -> list[dict[str, Any]]:
        return [pipeline.prepare(record) for record in mapped(i)]

    if stage == "decode":
        return _each(decoded)
    if stage == "ingest":
        requests = [(parse_request(gzip.decompress(body), "application/x-protobuf"), OPEN) for body in bodies]
        return _pairs(lambda pair: ingest.otlp_together(requests[pair]))
    made = [{"map": decoded, "prepare": mapped}.get(stage, prepared)(i) for i in range(len(bodies))]
    if stage == "map":
        return _each(lambda i: [span_to_record(span) for span in made[i]])
    if stage == "prepare":
        return _each(lambda i: [pipeline.prepare(record) for record in made[i]])
    if stage == "score":
        return _each(lambda i: (pipeline.judge(made[i]), pipeline.count(made[i])))
    from otel_aitracer._destinations._records_table import record_row

    if stage == "rows":
        return _each(lambda i: [record_row(record) for record in made[i]])
    batches = [_Batch(ingest, records, OPEN, Outcome()) for records in made]  # judged and made into rows: what write takes
    return _pairs(lambda pair: ingest._write(batches[pair]))


def _each(work: Callable[[int], Any]) -> Callable[[range], None]:
    def run(numbers: range) -> None:
        for i in numbers:
            work(i)

    return run


def _pairs(work: Callable[[slice], Any]) -> Callable[[range], None]:
    """Requests two at a time, as a busy serve worker takes them (one transaction for both)."""

    def run(numbers: range) -> None:
        for i in numbers[::2]:
            work(slice(i, i + 2))

    return run


if __name__ == "__main__":
    main()
