"""Cost in USD from ``genai-prices``; ``None`` when the model is unknown (never a guess)."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache

from genai_prices import Usage, calc_price

_logger = logging.getLogger(__name__)

# Record provider -> genai-prices provider id; "other" lets genai-prices match by model.
_PROVIDER_IDS = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}


def cost_usd(
    model: str | None,
    provider: str,
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    at: datetime | None = None,
) -> float | None:
    """Price one call; input tokens include cached ones, as in the GenAI conventions."""
    if not model or (input_tokens is None and output_tokens is None) or not _known(model, provider):
        return None
    usage = Usage(
        input_tokens=input_tokens or 0,
        output_tokens=output_tokens or 0,
        cache_read_tokens=cache_read_tokens or 0,
        cache_write_tokens=cache_write_tokens or 0,
    )
    try:
        price = calc_price(usage, model, provider_id=_PROVIDER_IDS.get(provider), genai_request_timestamp=at)
    except (LookupError, ValueError):
        return None
    return float(price.total_price)


@lru_cache(maxsize=512)
def _known(model: str, provider: str) -> bool:
    """Whether genai-prices knows the model; cached so unknown models cost one lookup."""
    try:
        calc_price(Usage(input_tokens=1), model, provider_id=_PROVIDER_IDS.get(provider))
    except (LookupError, ValueError):
        _logger.debug("no price for model %r (%s)", model, provider)
        return False
    return True
