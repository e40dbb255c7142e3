"""The exit budget: everything we do at interpreter exit fits in 2 s, in total.

Several shutdowns can run at exit (the provider's atexit hook, our processor's own,
an ``AITracer``'s provider, the HTTP sink). Each computes its deadline with
:func:`exit_deadline`, which never reaches past 2 s after the interpreter began to exit,
so their sum is bounded too. What could not be written or sent stays in the spool.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from typing import Callable

from ._fork import at_fork_reinit

EXIT_BUDGET_SECONDS = 2.0
_exit_started: float | None = None


def _mark_exit() -> None:
    global _exit_started
    if _exit_started is None:
        _exit_started = time.monotonic()


try:  # threading's exit hooks run before every atexit callback, so the budget starts first
    threading._register_atexit(_mark_exit)  # type: ignore[attr-defined]
except (AttributeError, RuntimeError):  # pragma: no cover - other interpreters, or already exiting
    atexit.register(_mark_exit)


def exit_deadline(timeout: float) -> float:
    """``time.monotonic()`` + ``timeout``, but never past the process's exit budget once exit has begun."""
    deadline = time.monotonic() + max(0.0, timeout)
    if _exit_started is not None:
        deadline = min(deadline, _exit_started + EXIT_BUDGET_SECONDS)
    return deadline


def at_exit(shutdown: Callable[[], object]) -> None:
    """Run the bound method ``shutdown`` when the process exits, held weakly: at interpreter exit, and in a
    ``multiprocessing`` child (which leaves through ``os._exit``, skipping atexit) when its target returns."""
    weak = weakref.WeakMethod(shutdown)  # type: ignore[arg-type]

    def run() -> None:
        _mark_exit()
        method = weak()
        if method is not None:
            method()

    atexit.register(run)
    at_fork_reinit(lambda: _at_multiprocessing_exit(run))


class _MultiprocessingExit:
    """A ``multiprocessing.Process`` clears inherited finalizers, then runs its after-fork hooks: register there."""

    registered: list[_MultiprocessingExit] = []  # register_after_fork holds its objects weakly

    def __init__(self, run: Callable[[], None]) -> None:
        self.run = run

    def finalize(self) -> None:
        import multiprocessing.util

        multiprocessing.util.Finalize(None, self.run, exitpriority=10)


def _at_multiprocessing_exit(run: Callable[[], None]) -> None:
    if sys.modules.get("multiprocessing") is None:  # a fork made by anything else exits through atexit, or not at all
        return
    import multiprocessing.util

    hook = _MultiprocessingExit(run)
    _MultiprocessingExit.registered.append(hook)
    multiprocessing.util.register_after_fork(hook, _MultiprocessingExit.finalize)
