"""``register_agents_tracing``: one call that connects the Agents SDK to the pipeline.

Outside ``otel_aitracer.agents`` on purpose: that package imports the SDK, and
``import otel_aitracer`` must not.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_registered: Any = None
_warned_disabled = False


def register_agents_tracing(
    base_url: str | None = None, api_key: str | None = None, environment: str | None = None, replace_default: bool = False
) -> Any:
    """Bridge every Agents SDK run into the pipeline (set up by ``register()`` if not yet); idempotent.

    ``replace_default=True`` removes the SDK's default upload to OpenAI (``set_trace_processors``);
    otherwise ours is added beside it (``add_trace_processor``). Returns the processor.
    """
    global _registered
    from agents.tracing import add_trace_processor, get_trace_provider, set_trace_processors

    from ._register import current_pipeline, register
    from .agents import AITracerTracingProcessor

    with _lock:
        if _registered is not None:
            return _registered
        pipeline = current_pipeline() or register(api_key=api_key, base_url=base_url, environment=environment, agents=False)
        processor = AITracerTracingProcessor(pipeline.tracer_provider, pipeline.processor.settings.capture_content)
        if replace_default:
            set_trace_processors([processor])
        else:
            add_trace_processor(processor)
        _warn_if_disabled(get_trace_provider())
        _registered = processor
        return processor


def _warn_if_disabled(provider: Any) -> None:
    global _warned_disabled
    if getattr(provider, "_disabled", False) and not _warned_disabled:
        _warned_disabled = True
        _logger.warning(
            "openai-agents tracing is disabled (set_tracing_disabled or OPENAI_AGENTS_DISABLE_TRACING), "
            "so the otel-aitracer bridge receives nothing either"
        )
