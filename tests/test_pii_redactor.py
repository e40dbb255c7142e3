"""PIIRedactor: actions, findings, JSON-like values, configuration and its errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading

import pytest

from otel_aitracer import Finding, PIIRedactor
from otel_aitracer._config import resolve_settings
from otel_aitracer._recording._pipeline import make_redactor
from otel_aitracer.exceptions import ConfigurationError

TEXT = "Mail jane@example.com, card 4111 1111 1111 1111, key sk-proj-abcdefghijklmnopqrstuvwxyz012345."


def test_scan_returns_typed_findings_with_offsets() -> None:
    findings = PIIRedactor().scan(TEXT)
    assert [(f.type, TEXT[f.start : f.end]) for f in findings] == [
        ("email", "jane@example.com"),
        ("credit_card", "4111 1111 1111 1111"),
        ("secret", "sk-proj-abcdefghijklmnopqrstuvwxyz012345"),
    ]
    assert all(isinstance(f, Finding) for f in findings)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("mask", "Mail [EMAIL], card [CREDIT_CARD], key [SECRET]."),
        ("redact", "Mail ***, card ***, key ***."),
        ("none", TEXT),
    ],
)
def test_actions(action: str, expected: str) -> None:
    assert PIIRedactor(action=action).redact(TEXT) == expected


def test_hash_is_a_typed_salted_hmac_stable_for_one_salt() -> None:
    redactor = PIIRedactor(action="hash", salt="pepper")
    digest = hmac.new(b"pepper", b"jane@example.com", hashlib.sha256).hexdigest()[:12]
    assert redactor.redact("to jane@example.com") == f"to [EMAIL:{digest}]"
    assert PIIRedactor(action="hash", salt="pepper").redact("jane@example.com") == f"[EMAIL:{digest}]"
    assert PIIRedactor(action="hash", salt="other").redact("jane@example.com") != f"[EMAIL:{digest}]"


def test_hash_salt_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AITRACER_PII_SALT", "from-env")
    digest = hmac.new(b"from-env", b"jane@example.com", hashlib.sha256).hexdigest()[:12]
    assert PIIRedactor(action="hash").redact("jane@example.com") == f"[EMAIL:{digest}]"


def test_types_limit_what_is_found() -> None:
    assert PIIRedactor(types=["email"]).redact(TEXT) == "Mail [EMAIL], card 4111 1111 1111 1111, key sk-proj-abcdefghijklmnopqrstuvwxyz012345."


def test_custom_patterns_by_name_and_as_a_list() -> None:
    named = PIIRedactor(types=[], custom_patterns={"employee_id": r"EMP-\d{6}"})
    assert named.redact("badge EMP-004211 ok") == "badge [EMPLOYEE_ID] ok"
    assert [f.type for f in named.scan("EMP-004211")] == ["employee_id"]
    listed = PIIRedactor(types=[], custom_patterns=[re.compile(r"EMP-\d{6}")])
    assert listed.redact("EMP-004211") == "[CUSTOM]"


def test_redact_value_keeps_structure_and_json_in_strings_stays_json() -> None:
    value = {
        "messages": [{"role": "user", "content": "mail jane@example.com"}],
        "tool_calls": [{"function": {"name": "pay", "arguments": json.dumps({"card": "4111111111111111", "note": 'say "hi"'})}}],
        "count": 3,
        "ok": True,
        "none": None,
    }
    out, counts = PIIRedactor().redact_counted(value)
    assert out["messages"] == [{"role": "user", "content": "mail [EMAIL]"}]
    assert json.loads(out["tool_calls"][0]["function"]["arguments"]) == {"card": "[CREDIT_CARD]", "note": 'say "hi"'}
    assert (out["count"], out["ok"], out["none"]) == (3, True, None)
    assert counts == {"email": 1, "credit_card": 1}
    assert value["messages"][0]["content"] == "mail jane@example.com"  # the input is not modified


def test_values_under_secret_keys_are_secrets_whole() -> None:
    out, counts = PIIRedactor().redact_counted(
        {"password": "correct horse battery staple", "headers": {"Authorization": "Basic xyz", "X-Api-Key": 12345}, "max_tokens": 100, "api_key": ""}
    )
    assert out == {"password": "[SECRET]", "headers": {"Authorization": "[SECRET]", "X-Api-Key": "[SECRET]"}, "max_tokens": 100, "api_key": ""}
    assert counts == {"secret": 3}


def test_unchanged_json_string_keeps_its_formatting() -> None:
    raw = '{ "a": 1,   "b": [1, 2] }'
    assert PIIRedactor().redact_value(raw) is raw


def test_a_masked_value_inside_a_json_string_that_does_not_parse_stays_valid_json() -> None:
    raw = json.dumps({"note": "call +1 (646) 555-0100 or mail jane@example.com"})[:-1]  # truncated JSON: text path
    out = PIIRedactor().redact(raw)
    assert json.loads(out + "}") == {"note": "call [PHONE] or mail [EMAIL]"}


def test_repeated_messages_are_served_from_the_cache_with_the_same_counts() -> None:
    redactor = PIIRedactor()
    message = "hello jane@example.com " + "x" * 500
    first = redactor.redact_counted([message])
    calls = []
    redactor.scan = lambda text: calls.append(text) or []  # type: ignore[method-assign]
    assert redactor.redact_counted([message]) == first
    assert calls == []


def test_thread_safe_under_concurrent_use() -> None:
    redactor = PIIRedactor()
    texts = [f"user{i}@example.com called +1 (646) 555-{i:04d}" for i in range(200)]
    results: dict[int, str] = {}

    def work(offset: int) -> None:
        for i, text in enumerate(texts):
            if i % 4 == offset:
                results[i] = redactor.redact(text)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fresh = PIIRedactor()
    assert results == {i: fresh.redact(text) for i, text in enumerate(texts)}
    assert all(r.startswith("[EMAIL] called ") for r in results.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "scramble"}, "action must be one of"),
        ({"types": ["email", "passport"]}, "unknown PII types ['passport']"),
        ({"types": "email"}, "must be a list"),
        ({"custom_patterns": {"Bad Name": r"x"}}, "lower_snake_case"),
        ({"custom_patterns": {"emp": r"("}}, "does not compile"),
        ({"custom_patterns": {"emp": r"x*"}}, "matches the empty string"),
    ],
)
def test_bad_configuration_raises_at_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        PIIRedactor(**kwargs)


def test_settings_read_the_pii_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_redactor(resolve_settings()).types == frozenset(PIIRedactor().types)  # on by default, all types
    monkeypatch.setenv("AITRACER_PII_ACTION", "redact")
    monkeypatch.setenv("AITRACER_PII_TYPES", "email, phone,bogus")
    redactor = make_redactor(resolve_settings())
    assert redactor is not None and redactor.action == "redact" and redactor.types == {"email", "phone"}
    monkeypatch.setenv("AITRACER_PII_DETECTION", "false")
    assert make_redactor(resolve_settings()) is None
    assert make_redactor(resolve_settings(pii_detection=True)) is not None  # an argument wins


def test_bad_environment_values_fall_back_with_a_warning(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("AITRACER_PII_ACTION", "shred")
    assert resolve_settings().pii_action == "mask"
    assert "AITRACER_PII_ACTION='shred'" in caplog.text


@pytest.mark.parametrize(("kwargs", "message"), [({"pii_action": "shred"}, "pii_action"), ({"pii_types": ["dna"]}, "pii_types")])
def test_bad_pii_arguments_to_the_pipeline_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve_settings(**kwargs)
