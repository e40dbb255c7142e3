"""Which instrumentor serves which LLM SDK, loaded only when the SDK is installed.

The core knows instrumentors by their public class only; each one's patch table is its
own (``instrument()`` for classes, ``instrument_client()`` for one client).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any

_logger = logging.getLogger(__name__)

# name -> (SDK modules, any of which makes it worth instrumenting; instrumentor module; class)
INSTRUMENTORS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "openai": (("openai",), "instrumentors.openai", "OpenAIInstrumentor"),
    "anthropic": (("anthropic",), "instrumentors.anthropic", "AnthropicInstrumentor"),
    "google_genai": (("google.genai", "google.generativeai"), "instrumentors.google_genai", "GoogleGenAIInstrumentor"),
}


def findable(module: str) -> bool:
    """Whether ``module`` could be imported, without importing it (importing an SDK the app never uses costs start-up)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ModuleNotFoundError, ValueError):  # the parent package is missing, or a module without a spec
        return False


def load_instrumentor(name: str) -> Any | None:
    """The instrumentor for one SDK if both are importable; None otherwise."""
    sdk_modules, module_name, class_name = INSTRUMENTORS[name]
    try:
        if not any(findable(m) for m in sdk_modules):
            raise ImportError(sdk_modules[0])
        instrumentor_class = getattr(importlib.import_module(module_name), class_name)
    except ImportError:
        _logger.debug("not instrumenting %s: %s or its instrumentor is not installed", name, "/".join(sdk_modules))
        return None
    return instrumentor_class()
