"""Which instrumentor serves which LLM SDK, loaded only when the SDK is installed.

The core knows instrumentors by their public class only; each one's patch table and SDK
import names are its own (``instrument()`` patches classes when the SDK is imported,
``instrument_client()`` one client).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any

_logger = logging.getLogger(__name__)

# name -> (instrumentor module, class)
INSTRUMENTORS: dict[str, tuple[str, str]] = {
    "openai": ("instrumentors.openai", "OpenAIInstrumentor"),
    "anthropic": ("instrumentors.anthropic", "AnthropicInstrumentor"),
    "google_genai": ("instrumentors.google_genai", "GoogleGenAIInstrumentor"),
    "mcp": ("instrumentors.mcp", "MCPInstrumentor"),
}


def findable(module: str) -> bool:
    """Whether ``module`` could be imported, without importing it (importing an SDK the app never uses costs start-up)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ModuleNotFoundError, ValueError):  # the parent package is missing, or a module without a spec
        return False


def load_instrumentor(name: str) -> Any | None:
    """The instrumentor for one SDK if both are installed (neither is imported: an instrumentor module is
    light, and waits for the SDK's import); None otherwise."""
    module_name, class_name = INSTRUMENTORS[name]
    try:
        instrumentor_class = getattr(importlib.import_module(module_name), class_name)
    except ImportError:
        _logger.debug("not instrumenting %s: its instrumentor is not installed", name)
        return None
    if not any(findable(m) for m in instrumentor_class.sdk_modules()):
        _logger.debug("not instrumenting %s: %s is not installed", name, "/".join(instrumentor_class.sdk_modules()))
        return None
    return instrumentor_class()
