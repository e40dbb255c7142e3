"""Each detector on the formats SPEC §4a and issue #3 name, and on what must not be flagged."""

from __future__ import annotations

import json

import pytest

from otel_aitracer import PIIRedactor

from .helpers import run_python

REDACTOR = PIIRedactor()


def found(text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in REDACTOR.scan(text)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("mail bob.smith+ai@mail.example.co.uk today", "email", "bob.smith+ai@mail.example.co.uk"),
        ("連絡先はtaro@example.comです", "email", "taro@example.com"),
        ("<JANE.DOE@EXAMPLE.ORG>", "email", "JANE.DOE@EXAMPLE.ORG"),
        ("call (702) 375-0477 now", "phone", "(702) 375-0477"),
        ("call 702-375-0477.", "phone", "702-375-0477"),
        ("call (823) 420-1098 ext 12", "phone", "(823) 420-1098"),
        ("UK +44(0)909 879 0277", "phone", "+44(0)909 879 0277"),
        ("mobil +49 151 23456789 bitte", "phone", "+49 151 23456789"),
        ("US +1 (646) 555-0100 office", "phone", "+1 (646) 555-0100"),
        ("Paris +33 (0)1 73 99 06 95", "phone", "+33 (0)1 73 99 06 95"),
        ("London 020 7946 0958", "phone", "020 7946 0958"),
        ("電話は090-1234-5678です", "phone", "090-1234-5678"),
        ("E.164 +442079460958", "phone", "+442079460958"),
        ("visa 4111 1111 1111 1111 ok", "credit_card", "4111 1111 1111 1111"),
        ("visa 4111111111111111", "credit_card", "4111111111111111"),
        ("mc 5555-5555-5555-4444", "credit_card", "5555-5555-5555-4444"),
        ("mc 2-series 2223003122003222", "credit_card", "2223003122003222"),
        ("amex 3782 822463 10005", "credit_card", "3782 822463 10005"),
        ("amex 378282246310005", "credit_card", "378282246310005"),
        ("カード番号4111111111111111です", "credit_card", "4111111111111111"),
        ("ssn 123-45-6789.", "ssn", "123-45-6789"),
        ("ITIN 912-70-1234", "ssn", "912-70-1234"),
        ("maestro 6759649826438453", "credit_card", "6759649826438453"),
        ("jcb 213112345678904", "credit_card", "213112345678904"),
        ("SSN: 123456789", "ssn", "123456789"),
        ("client 203.0.113.7 connected", "ip_address", "203.0.113.7"),
        ("client_ip=203.0.113.7", "ip_address", "203.0.113.7"),
        ("http://10.0.0.5/admin", "ip_address", "10.0.0.5"),
        ("v6 2001:db8::8a2e:370:7334 up", "ip_address", "2001:db8::8a2e:370:7334"),
        ("[2001:db8::1]:8080", "ip_address", "2001:db8::1"),
        ("link fe80::1%eth0.", "ip_address", "fe80::1%eth0"),
        ("mapped ::ffff:192.0.2.1", "ip_address", "::ffff:192.0.2.1"),
        ("loopback ::1", "ip_address", "::1"),
        ("IBAN DE89 3704 0044 0532 0130 00.", "iban", "DE89 3704 0044 0532 0130 00"),
        ("IBAN GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789_-AB", "secret", "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789_-AB"),
        ("key sk-svcacct-abcdefghijklmnopqrstuvwxyz0123", "secret", "sk-svcacct-abcdefghijklmnopqrstuvwxyz0123"),
        ("old sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL", "secret", "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL"),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789-AA", "secret", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789-AA"),
        ("AKIAIOSFODNN7EXAMPLE", "secret", "AKIAIOSFODNN7EXAMPLE"),
        ("token glpat-Dr8ZfXwiHMIwFzWJWIWH here", "secret", "glpat-Dr8ZfXwiHMIwFzWJWIWH"),
        ("HF hf_kMFu0s6dbeMxC1yx8gEiZHJ8RdSgLYpvky", "secret", "hf_kMFu0s6dbeMxC1yx8gEiZHJ8RdSgLYpvky"),
        ("npm_" + "a1B2" * 9, "secret", "npm_" + "a1B2" * 9),
        ("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", "secret", "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"),
        ("DefaultEndpointsProtocol=https;AccountKey=PZyq+NB/Vb==;EndpointSuffix=core.windows.net", "secret", "PZyq+NB/Vb=="),
        ("連絡先はDB_PASSWORD=hunter2xyzです。次へ", "secret", "hunter2xyz"),  # a bare value ends before the Japanese
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("ghp_0123456789abcdefghijklmnopqrstuvwxyz", "secret", "ghp_0123456789abcdefghijklmnopqrstuvwxyz"),
        ("gho_0123456789abcdefghijklmnopqrstuvwxyz", "secret", "gho_0123456789abcdefghijklmnopqrstuvwxyz"),
        ("github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW", "secret",
         "github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW"),
        ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "secret", "AIzaSyA-1234567890abcdefghijklmnopqrstu"),
        ("xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx", "secret", "xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx"),
        ("sk_live_abcdefghijklmnop12345678", "secret", "sk_live_abcdefghijklmnop12345678"),
        ("rk_live_abcdefghijklmnop12345678", "secret", "rk_live_abcdefghijklmnop12345678"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "secret",
         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
        ("Authorization: Bearer abcdefghijklmnop1234", "secret", "abcdefghijklmnop1234"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "secret", "dXNlcjpwYXNzd29yZA=="),
        ("password=hunter2", "secret", "hunter2"),
        ('{"api_key": "abc123xyz"}', "secret", "abc123xyz"),
        ('{\\"password\\": \\"hun2ter\\"}', "secret", "hun2ter"),
        ("DB_PASSWORD='s3cr3t!'", "secret", "s3cr3t!"),
        ("x-api-key: 0123456789abcdef", "secret", "0123456789abcdef"),
        ("[db]\npassword = correct horse", "secret", "correct"),
    ],
)
def test_finds(text: str, kind: str, value: str) -> None:
    assert (kind, value) in found(text)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [  # issue 15: the evasions a privacy reviewer tries first (offsets point into the original text)
        ("https://x.test/u?email=jane.doe%40example.com&x=1", "email", "jane.doe%40example.com"),
        ("mail=jane%2Bspam%40example.com", "email", "jane%2Bspam%40example.com"),
        ("ssh deploy@203.0.113.7 -p 2222", "ip_address", "203.0.113.7"),
        ("scp report.pdf admin@198.51.100.23:/tmp", "ip_address", "198.51.100.23"),
        ("my SSN 123456789", "ssn", "123456789"),
        ("card 4111\u00a01111\u00a01111\u00a01111", "credit_card", "4111\u00a01111\u00a01111\u00a01111"),
        ("card 4111\u20091111\u20091111\u20091111", "credit_card", "4111\u20091111\u20091111\u20091111"),
        ("card 4111.1111.1111.1111", "credit_card", "4111.1111.1111.1111"),
        ("card \uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11", "credit_card",
         "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"),
        # found with our own corpus: what the four classes above look like in other clothes
        ("連絡先は\uff10\uff19\uff10\uff0d\uff11\uff12\uff13\uff14\uff0d\uff15\uff16\uff17\uff18です", "phone",
         "\uff10\uff19\uff10\uff0d\uff11\uff12\uff13\uff14\uff0d\uff15\uff16\uff17\uff18"),  # full-width hyphens
        ("mail jane&#64;example.com or bob&#x40;example.org", "email", "jane&#64;example.com"),  # scraped HTML
        ("write to jane [at] example [dot] com", "email", "jane [at] example [dot] com"),
        ("mail jane.doe\u200b@example.com", "email", "jane.doe\u200b@example.com"),  # zero-width space from a copy
        ("card 41111111\u00ad11111111", "credit_card", "41111111\u00ad11111111"),  # a soft hyphen where a line might break
        ('{"arguments": "{\\"card\\": \\"4111\\\\u00a01111\\\\u00a01111\\\\u00a01111\\"}"}', "credit_card",
         "4111\\\\u00a01111\\\\u00a01111\\\\u00a01111"),  # a no-break space as a JSON escape, in JSON inside JSON
        ("?card=2720%E2%80%AF6617%E2%80%AF4085%E2%80%AF8547", "credit_card", "2720%E2%80%AF6617%E2%80%AF4085%E2%80%AF8547"),
        ("?phone=%28201%29%20555-0143&x=1", "phone", "%28201%29%20555-0143"),
        ("?ip=%5B2001:db8::1%5D:443", "ip_address", "2001:db8::1"),
        ("| ssn | 123456789 |", "ssn", "123456789"),
        ('{"ssn": "123456789"}', "ssn", "123456789"),
        ("ValueError: SSN mismatch for 123456789", "ssn", "123456789"),
        ("phone: 2025550143", "phone", "2025550143"),  # bare digits, named: a context rule like the SSN's
        ('{"mobile": "07700900123"}', "phone", "07700900123"),
        ("SUPPORT_PHONE=12025550143", "phone", "12025550143"),
    ],
)
def test_finds_through_cheap_evasions(text: str, kind: str, value: str) -> None:
    assert (kind, value) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "order 123456789 shipped", "id%40 is 100%25 fine", "lodash@4.17.21.1 installed", "v\uff11.\uff12 build",
        '{"ssn": "123-45-6789", "order_id": "987654321"}'[24:],  # the SSN's key is not this number's
        "Assn. member 123456789", "order 2025550143 shipped", '{"phone": "none", "id": 3, "ref": "2025550143"}',
        "telephoto lens 2025550143", "the [dot] product of 3 and 4 (at) noon", "C:\\\\users\\\\u2000x", "caf%C3%A9 %2540",
    ],
)  # fmt: skip
def test_evasion_handling_flags_no_lookalike(text: str) -> None:
    assert found(text) == []


def test_pem_private_key_block_is_one_secret() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgwMbRvI0MBZhpF\n-----END RSA PRIVATE KEY-----"
    text = f"key:\n{pem}\nthanks"
    assert found(text) == [("secret", pem)]
    assert PIIRedactor().redact(text) == "key:\n[SECRET]\nthanks"


@pytest.mark.parametrize(
    "text",
    [
        "id 123e4567-e89b-12d3-a456-426614174000",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (9fceb02)",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "at 2026-11-22T10:30:00.585546+09:00 and 2026-11-22 10:30:00",
        "epoch 1732300000 ms 1732300000123",
        "dates 11/22/2026, 22.11.2026, 2026/11/22",
        "price $1,299.99 or 1.299,00 € or USD 12,345.67",
        "order #123456789 ORD-2024-001234 INV-2026-4411223344",
        "ticket JIRA-1234 INC0012345",
        "id 987654321",
        "luhn-failing 4111 1111 1111 1112 and 1234567890123456",
        "IMEI 356938035643809",
        "ISBN 978-3-16-148410-0 and 9783161484100",
        "versions 1.2.3, v2.10.4, 10.0.19041.1, ==1.2.3.4, Chrome/120.0.6099.109, version 4.1.2.0",
        "oid 1.3.6.1.2.1.1.5.0",
        "git@github.com:org/repo.git",
        "icon@2x.png lodash@4.17.21 @types/node",
        "## 3.2 設定方法 第1章 概要",
        "mac 00:1A:2B:3C:4D:5E time 12:30:45",
        "std::vector<int> Foo::bar() Array2D::get",
        "max_tokens: 100, prompt_tokens: 20, token_count=5",
        "Password: at least 8 characters. Token: required.",
        "sk-learn is scikit-learn",
        "password: ${DB_PASSWORD} api_key=os.environ['KEY'] token=<your-token>",
    ],
)
def test_does_not_flag(text: str) -> None:
    assert found(text) == []


# Worst cases of each pattern family, 4 MB each: linear code handles each in about 3 s at most,
# quadratic code would need minutes (a PEM search per BEGIN took 150 s before it was fixed).
ADVERSARIAL = [
    "'a' * 4_000_000", "'1' * 4_000_000", "'1 ' * 2_000_000", "'1.' * 2_000_000", "'a@' * 2_000_000",
    "'a.' * 2_000_000 + '@'", "'x@' + 'a.' * 2_000_000", "':' * 4_000_000", "'a:' * 2_000_000", "'1:' * 2_000_000",
    "'password=' * 400_000", "'\"password\": \"' * 280_000", "'password: \\\\\"' * 280_000", "'+1' * 2_000_000",
    "'(0' * 2_000_000", "'-----BEGIN PRIVATE KEY-----' * 150_000", "'.eyJ' + 'a' * 4_000_000",
    "'a' * 4_000_000 + '.eyJabcdefghij.'", "'sk-' + 'a' * 4_000_000", "'AB12' * 1_000_000", "'4111 ' * 800_000",
    "'DE89 ' * 800_000", "'://a:' * 800_000", "'1.2.3.4.' * 500_000", "'fe80::' * 700_000", "'Bearer ' * 600_000",
]  # fmt: skip
_PER_INPUT_SECONDS = 20


@pytest.fixture(scope="module")
def adversarial_outcomes() -> dict[str, str]:
    """Each input redacted in one fresh interpreter, each under an alarm: ``ok`` or ``timeout``."""
    result = run_python(
        f"""
        import json, signal
        from otel_aitracer import PIIRedactor
        def stop(*_):
            raise TimeoutError
        signal.signal(signal.SIGALRM, stop)
        for expression in {ADVERSARIAL!r}:
            text = eval(expression)
            signal.alarm({_PER_INPUT_SECONDS})
            try:
                PIIRedactor().redact(text)
                outcome = "ok"
            except TimeoutError:
                outcome = "timeout"
            signal.alarm(0)
            print(json.dumps([expression, outcome]), flush=True)
        """,
        timeout=len(ADVERSARIAL) * _PER_INPUT_SECONDS + 60,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(line) for line in result.stdout.splitlines())


@pytest.mark.parametrize("expression", ADVERSARIAL)
def test_linear_time_on_adversarial_input(adversarial_outcomes: dict[str, str], expression: str) -> None:
    assert adversarial_outcomes[expression] == "ok"


def test_password_in_a_url_is_a_secret_and_its_host_no_email() -> None:
    assert found("DATABASE_URL=postgres://app:s3cr3t@db.internal:5432/app") == [("secret", "s3cr3t")]
