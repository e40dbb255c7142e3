"""After ``fork()`` (gunicorn ``--preload``, Celery prefork, multiprocessing) nothing is inherited held.

A lock that one of our threads held at the fork would stay held forever in the child,
where that thread does not exist. So every lock in the core comes from :func:`new_lock`,
and the child releases them all (CPython's ``_at_fork_reinit``, as ``logging`` and
``concurrent.futures`` do); objects with threads or connections rebuild them with
:func:`at_fork_reinit`. Both hold what they track weakly.

A lock that guards calls into C libraries with mutexes of their own (SQLite) is made with
``hold_across_fork=True``: the forking thread takes it first (waiting at most
:data:`FORK_WAIT_SECONDS` for a write in progress), so no thread is inside SQLite when the
process is copied, and a SQLite mutex is never inherited held either.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Callable

FORK_WAIT_SECONDS = 1.0
_locks: weakref.WeakSet[threading.Lock] = weakref.WeakSet()
_held_across_fork: weakref.WeakSet[threading.Lock] = weakref.WeakSet()
_taken: list[threading.Lock] = []


def new_lock(*, hold_across_fork: bool = False) -> threading.Lock:
    """A ``threading.Lock`` that is free again in a forked child (and, with ``hold_across_fork``, free of C state)."""
    lock = threading.Lock()
    (_held_across_fork if hold_across_fork else _locks).add(lock)
    return lock


def _take_before_fork() -> None:
    _taken[:] = [lock for lock in list(_held_across_fork) if lock.acquire(timeout=FORK_WAIT_SECONDS)]


def _give_back_in_parent() -> None:
    for lock in _taken:
        lock.release()
    _taken.clear()


def _release_locks_in_child() -> None:
    _taken.clear()
    for lock in [*_locks, *_held_across_fork]:
        lock._at_fork_reinit()  # type: ignore[attr-defined]


def at_fork_reinit(callback: Callable[[], object]) -> None:
    """Call ``callback`` in the child after every fork; a bound method is held weakly."""
    if not hasattr(os, "register_at_fork"):  # no fork() on this platform, so nothing to repair
        return
    if hasattr(callback, "__self__"):
        weak = weakref.WeakMethod(callback)  # type: ignore[arg-type]
        os.register_at_fork(after_in_child=lambda: (m := weak()) is not None and m())
    else:
        os.register_at_fork(after_in_child=callback)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_take_before_fork, after_in_parent=_give_back_in_parent, after_in_child=_release_locks_in_child)
