"""Requests that wait for a worker's ingest thread are taken by it together.

Under load a worker's requests queue for its one ingest thread. The first to get the thread
does the work of every request then waiting (up to a limit), in one go: for OTLP traces that is
one transaction, one commit and one addition to the rollups for all of them, where each
request alone paid for its own. The others find their answers ready when their turn comes.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Generic, Sequence, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class Waiting(Generic[Item, Answer]):
    """One request's work, queued; then its answer, or the exception it ended with."""

    __slots__ = ("item", "answer", "error", "done")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.answer: Answer | None = None
        self.error: BaseException | None = None
        self.done = False


class Together(Generic[Item, Answer]):
    """``work`` answers several items at once (an answer, or the exception for that item alone); if it raises, every
    item it was given ends with that exception. :meth:`enter` runs on the event loop, :meth:`answer` on the ingest
    thread (deque appends and pops are atomic, so the two need no lock)."""

    def __init__(self, work: Callable[[Sequence[Item]], Sequence[Answer | BaseException]], most: int) -> None:
        self._work = work
        self._most = most
        self._waiting: deque[Waiting[Item, Answer]] = deque()

    def enter(self, item: Item) -> Waiting[Item, Answer]:
        waiting: Waiting[Item, Answer] = Waiting(item)
        self._waiting.append(waiting)
        return waiting

    def answer(self, waiting: Waiting[Item, Answer]) -> Answer:
        """``waiting``'s answer: done already by an earlier turn, or now, with up to ``most`` of those waiting."""
        while not waiting.done:
            if not self._waiting:
                raise RuntimeError("an answer was asked for work that was never entered")
            self._run([self._waiting.popleft() for _ in range(min(self._most, len(self._waiting)))])
        if waiting.error is not None:
            raise waiting.error
        return waiting.answer  # type: ignore[return-value]

    def _run(self, group: list[Waiting[Item, Answer]]) -> None:
        try:
            answers = self._work([w.item for w in group])
        except Exception as exc:  # noqa: BLE001 - the group's work failed (the store, say): each request answers with it
            answers = [exc] * len(group)
        missing: list[BaseException] = [RuntimeError("the work gave no answer for this request")] * (len(group) - len(answers))
        for waiting, answer in zip(group, [*answers, *missing]):
            if isinstance(answer, BaseException):
                waiting.error = answer
            else:
                waiting.answer = answer
            waiting.done = True
