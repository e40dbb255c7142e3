"""Sessions as the AITracer SDK has them: a start, an end, user feedback and custom events.

``session()`` yields a :class:`Session`. Its feedback methods are bound to the
last record of the session (its span id, the SDK's ``log_id``); each one becomes
a :class:`SessionEvent` that the processor queues behind the records, so it is
redacted and written by the same worker and sink, never on the application's
thread, and never ahead of the record it refers to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .._fork import new_lock
from .._time import rfc3339
from ..exceptions import ValidationError

# Event kinds, and what the AITracer API calls them (see ``_http_sink``).
SESSION_START = "session_start"
SESSION_END = "session_end"
FEEDBACK = "feedback"
EVENT = "event"

Deliver = Callable[["SessionEvent"], None]


@dataclass
class SessionEvent:
    """One thing that happened to a session; ``fields`` is its body on the wire."""

    kind: str
    session_id: str
    project: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    timestamp: str = field(default_factory=rfc3339)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "session_id": self.session_id, "project": self.project, "timestamp": self.timestamp, **self.fields}


class Session:
    """The handle ``session()`` yields: feedback on the session's last response, and custom events.

    ``last_log_id`` is the span id of the session's latest LLM call; the
    processor sets it when such a call starts. Feedback given before any call
    concerns the session as a whole (``log_id`` None).
    """

    def __init__(self, session_id: str, user_id: str | None, metadata: Mapping[str, Any] | None, project: str | None, deliver: Deliver | None) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.metadata = dict(metadata or {})
        self.project = project
        self.last_log_id: str | None = None
        self.feedbacks: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self._deliver = deliver
        self._lock = new_lock()

    # ---- feedback (the seed's surface) -------------------------------------------------------------
    def thumbs_up(self, log_id: str | None = None, comment: str | None = None) -> None:
        """Upvote the last response (or ``log_id``)."""
        self._feedback("thumbs_up", log_id, 1, comment)

    def thumbs_down(self, log_id: str | None = None, comment: str | None = None) -> None:
        """Downvote the last response (or ``log_id``)."""
        self._feedback("thumbs_down", log_id, -1, comment)

    def feedback(self, text: str, log_id: str | None = None, score: int | None = None) -> None:
        """Text feedback on the last response (or ``log_id``)."""
        if not isinstance(text, str):
            raise ValidationError("text", f"must be a string, got {type(text).__name__}")
        self._feedback("text", log_id, score, text)

    def rate(self, score: int, log_id: str | None = None, comment: str | None = None) -> None:
        """A 1–5 rating of the last response (or ``log_id``)."""
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise ValidationError("score", f"must be an integer from 1 to 5, got {score!r}")
        self._feedback("rating", log_id, score, comment)

    def event(self, event_type: str, name: str | None = None, data: Mapping[str, Any] | None = None, log_id: str | None = None) -> None:
        """A custom event in the session (a click, a tool the user ran, …)."""
        fields = {"event_type": str(event_type), "name": name, "data": dict(data or {}), "log_id": log_id or self.last_log_id}
        self._emit(EVENT, fields, self.events)

    def set_metadata(self, key: str, value: Any) -> None:
        """Session metadata, sent with the session's end."""
        self.metadata[key] = value

    # ---- internals ---------------------------------------------------------------------------------
    def _feedback(self, kind: str, log_id: str | None, score: int | None, comment: str | None) -> None:
        fields = {"feedback_type": kind, "log_id": log_id or self.last_log_id, "score": score, "comment": comment, "user_id": self.user_id}
        self._emit(FEEDBACK, fields, self.feedbacks)

    def _emit(self, kind: str, fields: dict[str, Any], kept: list[dict[str, Any]] | None = None) -> None:
        event = SessionEvent(kind, self.session_id, self.project, fields)
        if kept is not None:
            with self._lock:
                kept.append(event.as_dict())
        if self._deliver is not None:
            self._deliver(event)

    def _started(self) -> None:
        self._emit(SESSION_START, {"user_id": self.user_id, "metadata": dict(self.metadata)})

    def _ended(self) -> None:
        self._emit(SESSION_END, {"metadata": dict(self.metadata)})
