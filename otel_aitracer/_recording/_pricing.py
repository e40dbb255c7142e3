"""Cost in USD from ``genai-prices``; ``None`` when the model is unknown (never a guess).

A full ``calc_price`` costs about 200 µs, too much for a server ingesting
thousands of spans a second. For a model whose prices are flat per token (most
are), the per-million rates are read once per model and day and the cost is a
dot product; the rates are only used after they reproduce ``calc_price`` on
probe usages, so tiered or unusual price models keep the exact slow path.
"""

from __future__ import annotations

import logging
import math
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

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
    service_tier: str | None = None,
) -> float | None:
    """Price one call; input tokens include cached ones, as in the GenAI conventions, and output tokens the
    reasoning ones. ``service_tier`` (the response's: priority, flex…) selects genai-prices' price variant."""
    if not model or (input_tokens is None and output_tokens is None) or not _known(model, provider):
        return None
    counts = (input_tokens or 0, output_tokens or 0, cache_read_tokens or 0, cache_write_tokens or 0)
    rates = _flat_rates(model, provider, (at or datetime.now(timezone.utc)).date(), service_tier)
    if rates is not None:
        return _dot(rates, counts)
    return _exact(model, provider, counts, at, service_tier)


def _exact(model: str, provider: str, counts: tuple[int, int, int, int], at: datetime | None, service_tier: str | None = None) -> float | None:
    try:
        price = _calc_price(counts, model, provider, at, service_tier)
    except (LookupError, ValueError):
        return None
    return float(price.total_price)


def load_prices() -> None:
    """Import genai-prices now, on the caller's thread (a pipeline's maker): about 90 ms (pydantic, the price data)
    that ``import otel_aitracer`` should not cost, and that the worker thread must not spend either. An import off
    the app's thread leaves half-made modules in ``sys.modules`` for a moment, and SDKs peek there: openai 2.x
    read a half-imported ``httpx2`` (genai-prices imports it) and failed the app's call."""
    from genai_prices import Usage, calc_price

    try:  # one price, so what genai-prices imports on its first one is imported here too
        calc_price(Usage(input_tokens=1, output_tokens=1), "gpt-4o-mini", provider_id="openai")
    except (LookupError, ValueError):
        pass


def _calc_price(counts: tuple[int, int, int, int], model: str, provider: str, at: datetime | None = None, service_tier: str | None = None) -> Any:
    """genai-prices' ``calc_price`` (imported by :func:`load_prices` when the pipeline was made)."""
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=counts[0], output_tokens=counts[1], cache_read_tokens=counts[2], cache_write_tokens=counts[3])
    context = {"service_tier": service_tier} if service_tier else None
    return calc_price(usage, model, provider_id=_PROVIDER_IDS.get(provider), genai_request_timestamp=at, price_context=context)


def _dot(rates: tuple[float, float, float, float], counts: tuple[int, int, int, int]) -> float:
    """Cost from per-million rates: uncached input, output, cache reads, cache writes."""
    input_tokens, output_tokens, cache_read, cache_write = counts
    uncached = max(0, input_tokens - cache_read - cache_write)
    return (uncached * rates[0] + output_tokens * rates[1] + cache_read * rates[2] + cache_write * rates[3]) / 1_000_000


_PROBES = ((1_000_000, 0, 0, 0), (0, 1_000_000, 0, 0), (3_000, 500, 1_000, 0), (3_000, 500, 0, 1_000), (120_017, 7_331, 40_000, 9_000))


@lru_cache(maxsize=1024)
def _flat_rates(model: str, provider: str, day: date, service_tier: str | None = None) -> tuple[float, float, float, float] | None:
    """The model's flat per-million rates on ``day`` at ``service_tier``, or None when a dot product would not equal ``calc_price``."""
    at = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
    try:
        price = _calc_price((1, 0, 0, 0), model, provider, at, service_tier).model_price
    except (LookupError, ValueError):
        return None
    raw = [getattr(price, name, None) for name in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")]
    if not all(r is None or isinstance(r, (Decimal, int, float)) for r in raw):
        return None  # tiered prices
    base = float(raw[0] or 0)
    rates = (base, float(raw[1] or 0), float(raw[2]) if raw[2] is not None else base, float(raw[3]) if raw[3] is not None else base)
    for probe in _PROBES:
        exact = _exact(model, provider, probe, at, service_tier)
        if exact is None or not math.isclose(exact, _dot(rates, probe), rel_tol=1e-9, abs_tol=1e-12):
            return None
    return rates


@lru_cache(maxsize=512)
def _known(model: str, provider: str) -> bool:
    """Whether genai-prices knows the model; cached so unknown models cost one lookup."""
    try:
        _calc_price((1, 0, 0, 0), model, provider)
    except (LookupError, ValueError):
        _logger.debug("no price for model %r (%s)", model, provider)
        return False
    return True
