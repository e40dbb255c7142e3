"""The one-pass prefilter (Hyperscan) decides where the detectors look, never what they find: every text
gives the same findings with it and without it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_aitracer._pii import _prefilter
from otel_aitracer._pii._findings import BUILTIN_TYPES
from otel_aitracer._pii._scanner import scan

from .pii_corpus import clean_chat_text, generate, with_pii
from .pii_names_corpus import names_and_addresses

TYPES = frozenset(BUILTIN_TYPES)
WITH_NAMES = TYPES | {"person", "street_address"}  # their seeds live in a second database


def _both(text: str, types: frozenset[str] = TYPES) -> tuple[list, list]:
    return scan(text, types, {}, prefilter=False), scan(text, types, {}, prefilter=True)


def test_hyperscan_is_in_use_here() -> None:
    """A dependency on every platform with wheels; without it the numbers below would compare a path with itself."""
    assert _prefilter.available()
    assert _prefilter.seeds("call +1 (646) 555-0100 or key sk-" + "a" * 30) is not None


def test_same_findings_on_the_labeled_corpus() -> None:
    differing = [s.text for s in generate(1500) if _both(s.text)[0] != _both(s.text)[1]]
    assert differing == []


def test_same_names_and_addresses_on_their_labeled_set() -> None:
    texts = [s.text for s in names_and_addresses()] + [s.text for s in generate(300)]
    assert sum(len(_both(t, WITH_NAMES)[0]) for t in texts[:600]) > 800
    assert [t for t in texts if _both(t, WITH_NAMES)[0] != _both(t, WITH_NAMES)[1]] == []


def test_same_findings_on_chat_text_with_pii_in_pieces() -> None:
    text = with_pii(clean_chat_text(0.3), 0.03)
    pieces = [text[i : i + 3000] for i in range(0, len(text), 3000)]
    plain = [scan(p, TYPES, {}, prefilter=False) for p in pieces]
    assert sum(map(len, plain)) > 100
    assert [scan(p, TYPES, {}, prefilter=True) for p in pieces] == plain


_FRAGMENTS = st.sampled_from(
    [
        *"0123456789", " ", "  ", "-", ".", "/", "(", ")", "+", "\n", ":", "=", "@", "%40", "%2B", "%20",
        "\u00a0", "\u2009", "\uff14", "\uff11", "\uff20", "é", "日本", "—", "\U0001f600",
        "4111", "1111", "555", "0100", "+1 ", "+44 ", "+49 151 ", "+500 31111", "+683 4002", "+682 ", "(0)", "030 ", "SSN ", "ssn: ", "IBAN ", "DE89", "GB82 WEST ",
        "10.0.0.", "203.0.113.", "::1", "fe80::", "ssh deploy@", "version ", "==",
        "sk-", "sk-proj-", "AKIA", "ghp_", "xoxb-", "sk_live_", "Bearer ", "password=", '"api_key": "', "://u:", "-----BEGIN PRIVATE KEY-----",
        ".eyJ", "eyJhbGciOiJIUzI1NiJ9", "abcdefghijKLMNOPQRST", "jane.doe", "example.com", "the ", "Call me on ",
        "Mr. ", "Dear ", "my name is ", "Hi ", "Hello Team ", "Jane ", "Doe", "Smith", "Müller", "Best regards,\n", '"customer_name": "',
        "221B ", "Baker ", "Street", " Ave", " NW", ", Apt 4", "Flat 3, ", "Hauptstraße ", "12 rue de la ", "Paix", "Edelbert-Mende-Ring ",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_FRAGMENTS, min_size=1, max_size=60).map("".join))
def test_same_findings_on_any_mix_of_the_shapes(text: str) -> None:
    plain, prefiltered = _both(text, WITH_NAMES)
    assert prefiltered == plain


def test_offsets_stay_right_after_multibyte_characters() -> None:
    text = "日本語のテキスト — 😀 " * 20 + "カード 4111 1111 1111 1111、メール jane@example.com、鍵 sk-" + "A" * 40 + " 電話 +81 90-1234-5678"
    found = {text[f.start : f.end]: f.type for f in scan(text, TYPES, {})}
    assert found == {"4111 1111 1111 1111": "credit_card", "jane@example.com": "email", "sk-" + "A" * 40: "secret", "+81 90-1234-5678": "phone"}


def test_text_dense_with_candidates_is_searched_whole_and_gives_the_same() -> None:
    text = " ".join(f"{n:09d}" for n in range(20_000)) + " SSN 123-45-6789"
    assert _prefilter.seeds(text) is None  # a Python call per run would cost more than the plain scan
    assert _both(text)[1] == _both(text)[0] != []


def test_threads_scan_at_once_with_their_own_scratch_space() -> None:
    texts = [s.text for s in generate(200)]
    expected = [scan(t, TYPES, {}, prefilter=False) for t in texts]
    results: dict[int, list] = {}

    def work(n: int) -> None:
        results[n] = [scan(t, TYPES, {}) for t in texts]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r == expected for r in results.values()) and len(results) == 6


def test_a_forked_child_scans_with_the_parents_database() -> None:
    scan("warm up 4111 1111 1111 1111", TYPES, {})
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        found = scan("card 4111 1111 1111 1111", TYPES, {})
        os.write(write, repr([tuple(f) for f in found]).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert os.read(read, 1000).decode() == "[('credit_card', 5, 24)]"


def test_without_hyperscan_the_plain_scan_finds_the_same() -> None:
    """Where Hyperscan is not installed (a platform without wheels), redaction works, only slower."""
    code = (
        "import sys; sys.modules['hyperscan'] = None\n"
        "from otel_aitracer import PIIRedactor\n"
        "from otel_aitracer._pii import _prefilter\n"
        "print(_prefilter.available(), PIIRedactor().redact('mail jane@example.com, card 4111 1111 1111 1111'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False mail [EMAIL], card [CREDIT_CARD]"
