"""The pipeline ``register()`` set up for this process.

Shared state lives at the bottom of the house: the context helpers, the agents bridge and
``doctor`` read it from here instead of reaching up into ``register()``'s module.
"""

from __future__ import annotations

from typing import Any

_pipeline: Any = None  # an otel_aitracer.Pipeline (typed as Any: that module sits above this one)


def current_pipeline() -> Any:
    """The pipeline ``register()`` returned, or None."""
    return _pipeline


def set_current_pipeline(pipeline: Any) -> None:
    global _pipeline
    _pipeline = pipeline
