"""Costs equal genai-prices' own calculation, on the fast path for flat prices and the exact one otherwise."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_aitracer._recording._pricing import _exact, _flat_rates, cost_usd

MODELS = [("gpt-4o-mini", "openai"), ("gpt-5", "openai"), ("o3", "openai"), ("claude-haiku-4-5", "anthropic"),
          ("claude-sonnet-4-5", "anthropic"), ("gemini-2.5-flash", "gemini"), ("gemini-2.5-pro", "gemini")]  # fmt: skip
AT = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)


@settings(max_examples=300, deadline=None)
@given(model=st.sampled_from(MODELS), input_tokens=st.integers(0, 400_000), output_tokens=st.integers(0, 60_000),
       cached=st.floats(0, 1), written=st.floats(0, 1))  # fmt: skip
def test_cost_equals_genai_prices(model, input_tokens, output_tokens, cached, written):
    cache_read = int(input_tokens * cached)
    cache_write = int((input_tokens - cache_read) * written)
    counts = (input_tokens, output_tokens, cache_read, cache_write)
    fast = cost_usd(model[0], model[1], *counts, at=AT)
    assert math.isclose(fast, _exact(model[0], model[1], counts, AT), rel_tol=1e-9, abs_tol=1e-12)


def test_flat_models_take_the_fast_path_and_tiered_ones_do_not():
    assert _flat_rates("gpt-4o-mini", "openai", AT.date()) == (0.15, 0.6, 0.075, 0.15)
    assert _flat_rates("gemini-2.5-pro", "gemini", AT.date()) is None  # its price changes above 200k input tokens


def test_unknown_models_have_no_cost():
    assert cost_usd("my-own-finetune", "other", 100, 10, at=AT) is None
