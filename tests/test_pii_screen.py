"""The record-level screen: one Hyperscan pass over a record's content as JSON says when no string in it can hold a
finding, so redaction skips the walk. It may send a clean record down the walk (a time like 10:30:00 looks like an
IPv6 seed); it must never let through a value that the walk would change."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_aitracer._pii._records import redact_record
from otel_aitracer._pii._redactor import PIIRedactor

from .pii_corpus import clean_chat_text, generate
from .test_pii_prefilter import _FRAGMENTS

REDACTOR = PIIRedactor()
# What JSON escapes (quotes, backslashes, control characters) and what sits around a key: the shapes a screen over
# JSON text could miss if it read the escaped text as the text itself.
_ESCAPED = st.sampled_from(['"', "\\", "\t", "\\t", "\n", "\r", "\x00", "\x1f", '\\"', "\\\\", "'", ": ", "=", "Bearer\t", "bearer\t\t",
                            'password"\t:', "token\\\":\\\"", "secret\t=", "api_key", "10:30", "fe80::1", "\\u00a0", "\\u200b"])  # fmt: skip
_TEXT = st.lists(st.one_of(_FRAGMENTS, _ESCAPED), min_size=0, max_size=30).map("".join)
_KEYS = st.one_of(st.sampled_from(["role", "content", "password", "api_key", "Authorization", "token", "name", "x-api-key", "cookie"]), _TEXT)


def _values(leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(_KEYS, inner, max_size=4),
            st.dictionaries(_KEYS, inner, max_size=4).map(lambda d: orjson.dumps(d).decode()),  # tool-call arguments: JSON in a string
        ),
        max_leaves=12,
    )


_CONTENT = _values(st.one_of(_TEXT, st.integers(min_value=-(2**40), max_value=2**40), st.none(), st.booleans()))


def _walked(value: Any) -> tuple[Any, Counter[str]]:
    return REDACTOR.redact_counted(copy.deepcopy(value))


@settings(max_examples=600, deadline=None)
@given(_CONTENT)
def test_the_screen_never_passes_what_the_walk_would_change(value: Any) -> None:
    if REDACTOR.clean(value):
        redacted, counts = _walked(value)
        assert counts == Counter() and redacted == value


def test_the_screen_passes_no_sample_of_the_labelled_corpus_that_carries_pii() -> None:
    samples = [s for s in generate(1500) if _walked(s.text)[1]]
    wrapped = [{"messages": [{"role": "user", "content": s.text}]} for s in samples]
    assert len(samples) > 900
    assert [w for w in wrapped if REDACTOR.clean(w)] == []
    as_arguments = [{"arguments": orjson.dumps({"note": s.text}).decode()} for s in samples]
    assert [a for a in as_arguments if REDACTOR.clean(a)] == []


def test_clean_chat_records_are_screened_clean() -> None:
    """The point of the screen: most records carry no PII, and those skip the walk."""
    text = clean_chat_text(0.2)
    answers = [text[i : i + 800] for i in range(0, len(text), 800)]
    records = [{"input": {"messages": [{"role": "system", "content": "You are a support assistant."}, {"role": "user", "content": "Help?"}]},
                "output": {"role": "assistant", "content": a, "finish_reason": "stop"}, "metadata": {"server.address": "api.openai.com"}}
               for a in answers if not _walked(a)[1]]  # fmt: skip
    screened = sum(REDACTOR.clean(r) for r in records)
    assert len(records) > 150 and screened / len(records) > 0.6


def test_a_screened_record_is_left_as_it_was_and_a_dirty_one_is_redacted() -> None:
    clean = {"input": {"messages": [{"role": "user", "content": "What is the capital of France?"}]}, "output": {"content": "Paris."}}
    dirty = {"input": {"messages": [{"role": "user", "content": "Mail me at jane.doe@example.com"}]}, "output": {"content": "Done."}}
    assert redact_record(copy.deepcopy(clean), REDACTOR) == clean
    assert redact_record(dirty, REDACTOR)["input"]["messages"][0]["content"] == "Mail me at [EMAIL]" and dirty["pii"] == {"email": 1}


def test_redactors_the_screen_cannot_speak_for_always_walk() -> None:
    """Custom patterns and the opt-in name detectors have no seeds: their redactors never skip the walk."""
    value = {"content": "order ABC-12345 for Jane Smith at 221B Baker Street"}
    assert not PIIRedactor(custom_patterns={"order": r"ABC-\d+"}).clean(value)
    assert not PIIRedactor(types=["person", "street_address"]).clean(value)
    assert REDACTOR.clean(value)


def test_content_json_cannot_encode_is_never_screened_clean() -> None:
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    assert not REDACTOR.clean(deep)
    assert not REDACTOR.clean({1: "a key JSON cannot hold"})


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["input", "output", "error_message", "metadata", "events", "a \"quoted\" key"]), _CONTENT, min_size=1))
def test_a_member_the_screen_of_a_whole_record_passes_is_one_the_walk_would_not_change(content: dict[str, Any]) -> None:
    """One pass over a record's content fields places each seed in the member it ends in: a member it finds clean
    is one the walk leaves as it is, whatever the other members hold."""
    unclean = REDACTOR.unclean(content)
    assert unclean <= set(content)
    for key, value in content.items():
        if key not in unclean:
            redacted, counts = _walked(value)
            assert counts == Counter() and redacted == value, key


def test_a_prompt_with_pii_costs_its_answer_no_walk() -> None:
    answer = {"role": "assistant", "content": "Sure, I have updated the account as asked.", "finish_reason": "stop"}
    record = {"input": {"messages": [{"role": "user", "content": "My email is jane.doe@example.com, call +1 415 555 2671"}]},
              "output": answer, "metadata": {"server.address": "api.openai.com"}}  # fmt: skip
    assert REDACTOR.unclean(record) == {"input"}
    redact_record(record, REDACTOR)
    assert record["output"] is answer and record["pii"] == {"email": 1, "phone": 1}


def test_a_record_dense_with_seeds_is_screened_member_by_member() -> None:
    """Past a few dozen seeds the pass stops placing them: each member is then screened alone, with the same answer."""
    numbers = {"content": " ".join(f"order 4111111111111111 {n}" for n in range(60))}  # card-like runs: a seed each
    record = {"input": numbers, "output": {"content": "All done."}, "metadata": {}}
    assert REDACTOR.unclean(record) == {"input"}
    assert REDACTOR.unclean({"output": {"content": "All done."}}) == set()


def test_content_json_cannot_encode_is_walked_whole() -> None:
    assert REDACTOR.unclean({"input": {1: "a key JSON cannot hold"}, "output": "fine"}) == {"input", "output"}
    assert PIIRedactor(custom_patterns={"order": r"ABC-\d+"}).unclean({"output": "ABC-1"}) == {"output"}
