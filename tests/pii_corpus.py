"""A labeled PII evaluation set, generated with Faker from a fixed seed.

Each sample is text as it appears in LLM traffic (chat prompts and answers,
tool-call JSON with OpenAI's escaped ``arguments`` strings, markdown tables,
code and config, logs, stack traces, URLs with query strings, shell sessions,
prose in eleven languages and five scripts) with:

- ``positives``: values of a PII type, valid by construction (Luhn, mod-97,
  numbering plans, SSN areas, real key formats);
- ``negatives``: hard negatives by kind (UUIDs, trace ids, hashes, dates,
  prices, order numbers, IMEIs, ISBNs, versions, OIDs, git remotes, ARNs, …)
  that look like PII and must not be flagged.

Values come in the forms people and programs write them, evasions included:
percent-encoded in URLs, grouped with no-break or thin spaces or dots,
full-width digits in Japanese text, zero-width characters from copy and paste,
HTML entities, a nine-digit SSN written without separators after a word that
names it, an IPv4 address as the host of ``ssh user@host``.

Used by ``tests/test_pii_accuracy.py`` (thresholds) and ``bench/bench_pii.py``
(the comparison table), scored by ``tests/pii_scoring.py``; the optional types'
set is ``tests/pii_names_corpus.py``. Labels are located by searching the value
in the text.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import string
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Callable

import phonenumbers
from faker import Faker

SEED = 20261122


@dataclass
class Sample:
    text: str
    positives: list[tuple[str, int, int]] = field(default_factory=list)  # (type, start, end)
    negatives: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, start, end)


class _Values:
    """Valid PII values and hard negatives, all from one seeded RNG."""

    def __init__(self, rng: random.Random, fake: Faker, evasive: bool = True) -> None:
        self.rng = rng
        self.fake = fake
        self.evasive = evasive  # False: only the forms values usually take (for throughput text)
        self._phones = self._phone_pool()

    def _roll(self, evasive_share: float) -> float:
        """A random number; below ``evasive_share`` the caller writes an evasive form, never when not ``evasive``."""
        r = self.rng.random()
        return r if self.evasive else evasive_share + (1 - evasive_share) * r

    # ---- positives -------------------------------------------------------------------------
    def email(self) -> str:
        r = self._roll(0.08)
        if r < 0.04:
            return self.rng.choice(["{}&#64;{}", "{}&#x40;{}"]).format(*self.fake["en_US"].email().split("@"))  # scraped HTML
        if r < 0.08:
            return _zero_width(self.rng, self.fake["en_US"].email())
        if r < 0.1:
            address = self.fake["en_US"].email()
            return self.rng.choice([f"<{address}>", f"mailto:{address}", address.upper()])
        if r < 0.2:
            return f"{self.fake['en_US'].user_name()}+{self.rng.choice(['news', 'ai', 'test'])}@{self.fake['en_US'].domain_name()}"
        if r < 0.35:
            return f"{self.fake['en_US'].first_name().lower()}.{self.fake['en_US'].last_name().lower()}@mail.{self.fake['en_GB'].domain_name()}"
        return self.fake[self.rng.choice(["en_US", "de_DE", "fr_FR", "en_GB"])].email()

    def url_email(self) -> str:
        """An address as a query-string value: ``@`` (and ``+``) percent-encoded."""
        address = self.fake["en_US"].email() if self.rng.random() < 0.5 else f"{self.fake['en_US'].user_name()}+{self.rng.choice(['a', 'ml'])}@{self.fake['en_US'].domain_name()}"
        return address.replace("+", "%2B").replace("@", "%40")

    def _phone_pool(self) -> list[str]:
        pool: list[str] = []
        fmt = phonenumbers.PhoneNumberFormat
        for region, kinds in {
            "US": (phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE),
            "GB": (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE),
            "DE": (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE),
            "FR": (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE),
            "JP": (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE),
            "IN": (phonenumbers.PhoneNumberType.MOBILE,),
            "AU": (phonenumbers.PhoneNumberType.MOBILE,),
        }.items():
            for kind in kinds:
                example = phonenumbers.example_number_for_type(region, kind)
                national = str(example.national_number)
                made = 0
                while made < 12:
                    digits = national[:-4] + "".join(self.rng.choice(string.digits) for _ in range(4))
                    number = phonenumbers.parse(digits, region)
                    if not phonenumbers.is_valid_number(number):
                        continue
                    made += 1
                    pool.append(phonenumbers.format_number(number, fmt.INTERNATIONAL))
                    pool.append(phonenumbers.format_number(number, fmt.NATIONAL))
                    if region == "US":
                        n = national[:-4] + digits[-4:]
                        pool += [f"{n[:3]}-{n[3:6]}-{n[6:]}", f"{n[:3]}.{n[3:6]}.{n[6:]}", f"+1 ({n[:3]}) {n[3:6]}-{n[6:]}"]
                    else:
                        pool.append(phonenumbers.format_number(number, fmt.E164))
        return pool

    def phone(self, named: bool = False) -> str:
        """``named``: the text names it (``phone:``, ``Call me on``), so it may be bare digits."""
        value = self.rng.choice(self._phones)
        if named and not value.startswith("+") and self.rng.random() < 0.2:
            return "".join(c for c in value if c.isdigit())
        r = self._roll(0.1)
        if r < 0.1:
            return value.replace(" ", self.rng.choice(_ODD_SPACES))
        if r < 0.13:
            return "tel:" + value.replace(" ", "-") if value.startswith("+") else value
        return value

    def full_width_phone(self) -> str:
        """As typed with a Japanese input method: full-width digits, hyphens and plus."""
        return self.rng.choice([v for v in self._phones if "+81" in v or v.startswith("0")]).translate(_FULL_WIDTH)

    def credit_card(self) -> str:
        prefix, length = self.rng.choice(
            [("4", 16), ("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("4", 13)]
        )
        body = prefix + "".join(self.rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
        number = body + _luhn_digit(body)
        style = self._roll(0.14)
        if length == 16 and style < 0.08:
            return self.rng.choice(_ODD_SPACES + (".",)).join(number[i : i + 4] for i in range(0, 16, 4))  # copied from a PDF, or evasive
        if style < 0.11:
            return (" ".join(number[i : i + 4] for i in range(0, len(number), 4)) if self.rng.random() < 0.5 else number).translate(_FULL_WIDTH)
        if style < 0.14:
            return _zero_width(self.rng, number)
        if length == 15 and style < 0.5:
            return f"{number[:4]} {number[4:10]} {number[10:]}"
        if length == 16 and style < 0.4:
            return " ".join(number[i : i + 4] for i in range(0, 16, 4))
        if length == 16 and style < 0.6:
            return "-".join(number[i : i + 4] for i in range(0, 16, 4))
        return number

    def ssn(self, named: bool = False) -> str:
        """``named``: the text names it (``SSN``, ``"ssn":``), so it may be written without separators."""
        area = self.rng.choice([a for a in range(1, 900) if a != 666])
        group, serial = self.rng.randint(1, 99), self.rng.randint(1, 9999)
        if named and self.rng.random() < 0.3:
            return f"{area:03d}{group:02d}{serial:04d}"
        separator = "-" if self.rng.random() < 0.85 else " "
        return f"{area:03d}{separator}{group:02d}{separator}{serial:04d}"

    def ip_address(self) -> str:
        f = self.fake["en_US"]
        r = self.rng.random()
        if r < 0.08:
            return self.rng.choice([f"{f.ipv4_public()}:{self.rng.randint(1, 65535)}", f"[{ipaddress.IPv6Address(f.ipv6()).compressed}]:443", f"http://{f.ipv4_private()}/admin"])
        if r < 0.35:
            return f.ipv4_public()
        if r < 0.5:
            return f.ipv4_private()
        if r < 0.75:
            return ipaddress.IPv6Address(f.ipv6()).compressed
        return self.rng.choice(["2001:db8::", "fe80::"]) + f"{self.rng.randint(1, 0xFFFF):x}:{self.rng.randint(1, 0xFFFF):x}"

    def iban(self) -> str:
        value = self.fake[self.rng.choice(["de_DE", "fr_FR", "en_GB", "nl_NL", "es_ES", "it_IT"])].iban()
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if self.rng.random() < 0.5 else value

    def login(self) -> str:
        """``ssh``/``scp`` to an address, the user before ``@``: only the address is labeled."""
        user, host = self.rng.choice(["deploy", "root", "ubuntu", "ec2-user", "admin"]), self.fake["en_US"].ipv4_public()
        shown = self.rng.choice(["ssh {}@{} -p 2222", "ssh -i ~/.ssh/id_ed25519 {}@{}", "scp dump.sql {}@{}:/tmp/", "rsync -av ./build {}@{}:/srv/app"]).format(user, host)
        LABELS[shown] = host
        return shown

    def secret(self) -> str:
        rng, alnum = self.rng, string.ascii_letters + string.digits
        token = lambda n, chars=alnum: "".join(rng.choice(chars) for _ in range(n))  # noqa: E731
        return rng.choice(
            [
                lambda: "sk-proj-" + token(74, alnum + "_-"),
                lambda: "sk-" + token(48),
                lambda: "sk-svcacct-" + token(60, alnum + "_-"),
                lambda: "sk-ant-api03-" + token(86, alnum + "_-") + "AA",
                lambda: "AKIA" + token(16, string.ascii_uppercase + string.digits),
                lambda: "ghp_" + token(36),
                lambda: "gho_" + token(36),
                lambda: "github_pat_" + token(22) + "_" + token(59),
                lambda: "AIza" + token(35, alnum + "_-"),
                lambda: "xoxb-" + token(12, string.digits) + "-" + token(13, string.digits) + "-" + token(24),
                lambda: rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + token(24),
                lambda: _jwt(rng),
                lambda: self._labeled("Authorization: Bearer {}", token(40, alnum + "-._")),
                lambda: self._labeled("aws_secret_access_key = {}", token(40, alnum + "/+")),
                lambda: self._labeled('{{"password": "{}"}}', token(14, alnum + "!#%")),
                lambda: self._labeled("DB_PASSWORD={}", token(12, alnum)),
                lambda: self._labeled("-H 'x-api-key: {}'", token(32, alnum)),
                lambda: _pem(rng),
                lambda: "glpat-" + token(20, alnum + "_-"),  # GitLab
                lambda: "hf_" + token(34),  # Hugging Face
                lambda: "npm_" + token(36),
                lambda: "SG." + token(22, alnum + "_-") + "." + token(43, alnum + "_-"),  # SendGrid
                lambda: self._labeled("postgres://app:{}@db.internal:5432/orders", token(16, alnum)),
                lambda: self._labeled("AccountKey={};EndpointSuffix=core.windows.net", token(86, alnum + "+/") + "=="),  # Azure storage
                lambda: self._labeled("export ANTHROPIC_API_KEY={}", "sk-ant-api03-" + token(93, alnum + "_-")),
            ]
        )()

    def _labeled(self, template: str, secret: str) -> str:
        """A secret shown with its key or scheme; only the secret itself is labeled."""
        shown = template.format(secret)
        LABELS[shown] = secret
        return shown

    # ---- hard negatives ---------------------------------------------------------------------
    def negative(self) -> tuple[str, str]:
        kind = self.rng.choice(list(_NEGATIVES))
        return kind, _NEGATIVES[kind](self)


_ODD_SPACES = ("\u00a0", "\u2009", "\u202f")  # no-break, thin, narrow no-break
_FULL_WIDTH = {ord(c): 0xFF10 + i for i, c in enumerate("0123456789")} | {ord("-"): 0xFF0D, ord("+"): 0xFF0B, ord(" "): 0x3000}
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\u00ad")


def _zero_width(rng: random.Random, value: str) -> str:
    """A zero-width character (or soft hyphen) slipped inside: invisible, and it splits the shape."""
    at = rng.randrange(1, len(value) - 1)
    return value[:at] + rng.choice(_ZERO_WIDTH) + value[at:]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _jwt(rng: random.Random) -> str:
    b64 = lambda obj: base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()  # noqa: E731
    sig = base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode()
    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64({'sub': str(rng.randint(1, 10**9)), 'iat': rng.randint(1_600_000_000, 1_800_000_000)})}.{sig}"


# Shown text -> the part that is the PII (a secret shown with its key name, a PEM block's body).
LABELS: dict[str, str] = {}
# Value -> how the current sample's context wrote it (percent-encoded in a URL); cleared per sample.
RENDERED: dict[str, str] = {}


def _composite(shown: str) -> bool:
    """Shown with its own key name or markers, so it is not put after another key."""
    return shown in LABELS or shown.startswith("-----")


def _pem(rng: random.Random) -> str:
    body = "\n".join(base64.b64encode(rng.randbytes(48)).decode() for _ in range(4))
    return f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----"


def _hex(v: _Values, n: int) -> str:
    return "".join(v.rng.choice("0123456789abcdef") for _ in range(n))


def _luhn_failing(v: _Values) -> str:
    n = v.rng.randint(13, 19)
    body = "".join(v.rng.choice(string.digits) for _ in range(n - 1))
    good = _luhn_digit(body)
    return body + v.rng.choice([d for d in string.digits if d != good])


def _imei(v: _Values) -> str:
    body = v.rng.choice(["35", "86", "01", "99", "49"]) + "".join(v.rng.choice(string.digits) for _ in range(12))
    return body + _luhn_digit(body)


def _isbn(v: _Values) -> str:
    body = v.rng.choice(["978", "979"]) + "".join(v.rng.choice(string.digits) for _ in range(9))
    check = (10 - sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(body)) % 10) % 10
    isbn = body + str(check)
    return f"{isbn[:3]}-{isbn[3]}-{isbn[4:8]}-{isbn[8:12]}-{isbn[12]}" if v.rng.random() < 0.5 else isbn


_NEGATIVES: dict[str, Callable[[_Values], str]] = {
    "uuid": lambda v: str(uuid.UUID(int=v.rng.getrandbits(128), version=4)),
    "trace_id": lambda v: _hex(v, 32),
    "span_id": lambda v: _hex(v, 16),
    "git_sha": lambda v: _hex(v, v.rng.choice([7, 12, 40])),
    "sha256": lambda v: _hex(v, 64),
    "timestamp": lambda v: v.fake["en_US"].date_time_between("-3y", "+1y").isoformat() + v.rng.choice(["Z", "+09:00", ".123Z", ""]),
    "epoch": lambda v: str(v.rng.randint(1_500_000_000, 1_900_000_000)) + v.rng.choice(["", "000", ".123"]),
    "date": lambda v: v.fake["en_US"].date(v.rng.choice(["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%B %d, %Y"])),
    "price": lambda v: v.rng.choice(["$", "€", "USD ", ""]) + f"{v.rng.randint(1, 99999):,}.{v.rng.randint(0, 99):02d}",
    "order_number": lambda v: v.rng.choice(["ORD-", "#", "Order #", "PO-", "INV-2026-"]) + str(v.rng.randint(10**5, 10**10)),
    "ticket_number": lambda v: v.rng.choice(["JIRA-", "INC", "TICKET-", "CS-", "SR-"]) + str(v.rng.randint(100, 10**7)),
    "nine_digit_id": lambda v: str(v.rng.randint(10**8, 10**9 - 1)),
    "luhn_failing": _luhn_failing,
    "imei": lambda v: "IMEI " + _imei(v),
    "isbn": lambda v: "ISBN " + _isbn(v),
    "version": lambda v: v.rng.choice(["v", "", "version ", "==", ">=", "~="])
    + ".".join(str(v.rng.randint(0, 40)) for _ in range(v.rng.choice([2, 3, 3])))
    + v.rng.choice(["", "", f".{v.rng.randint(256, 99999)}", f"-rc.{v.rng.randint(1, 9)}"]),
    "four_part_version": lambda v: v.rng.choice(["v", "version ", "==", "Chrome/", "build "])
    + ".".join(str(v.rng.randint(0, 40)) for _ in range(4)),
    "oid": lambda v: "1.3.6.1." + ".".join(str(v.rng.randint(1, 30)) for _ in range(v.rng.randint(3, 8))),
    "git_remote": lambda v: f"git@{v.rng.choice(['github.com', 'gitlab.com', 'bitbucket.org'])}:{v.fake['en_US'].user_name()}/{v.fake['en_US'].word()}.git",
    "japanese_heading": lambda v: v.rng.choice(["第", "## "]) + f"{v.rng.randint(1, 12)}" + v.rng.choice(["章 概要", ".2 設定方法", "節 まとめ", ".1.3 インストール"]),
    "mac_address": lambda v: ":".join(f"{v.rng.randint(0, 255):02X}" for _ in range(6)),
    "time": lambda v: f"{v.rng.randint(0, 23):02d}:{v.rng.randint(0, 59):02d}:{v.rng.randint(0, 59):02d}",
    "coordinates": lambda v: f"{v.rng.uniform(-80, 80):.4f}, {v.rng.uniform(-170, 170):.4f}",
    "scoped_package": lambda v: v.rng.choice(["@types/node@20.11.5", "lodash@4.17.21", "icon@2x.png", "@app.route('/v1')"]),
    "code_path": lambda v: v.rng.choice(["std::vector<int>", "Foo::bar()", "crate::io::Result", "Array2D::get"]),
    "aws_arn": lambda v: f"arn:aws:iam::{v.rng.randint(10**11, 10**12 - 1)}:role/{v.fake['en_US'].word()}",
    "duration": lambda v: f"{v.rng.randint(10**8, 10**12)}{v.rng.choice(['ns', ' ns', 'µs', ' bytes'])}",
    "line_col": lambda v: f"{v.fake['en_US'].word()}.py:{v.rng.randint(1, 2000)}:{v.rng.randint(1, 120)}",
    "zip_plus4": lambda v: f"{v.rng.randint(10000, 99999)}-{v.rng.randint(1000, 9999)}",
    "float": lambda v: f"{v.rng.uniform(-1000, 1000):.{v.rng.randint(9, 15)}f}",
    "k8s_pod": lambda v: f"{v.fake['en_US'].word()}-{_hex(v, 10)}-{''.join(v.rng.choice(string.ascii_lowercase + string.digits) for _ in range(5))}",
    "semver_build": lambda v: f"{v.rng.randint(0, 9)}.{v.rng.randint(0, 30)}.{v.rng.randint(0, 30)}+build.{v.rng.randint(100, 99999)}",
    "masked_card": lambda v: v.rng.choice(["**** **** **** ", "XXXX-XXXX-XXXX-", "ending in ", "•••• "]) + f"{v.rng.randint(0, 9999):04d}",
    "snowflake_id": lambda v: f'"id": {v.rng.randint(10**17, 2 * 10**18)}',
    "token_count": lambda v: f"{v.rng.randint(10**9, 10**10):,} tokens",
}


# ---- contexts --------------------------------------------------------------------------------

def _chat_prompt(v: _Values, pii: list[tuple[str, str]]) -> str:
    f = v.fake["en_US"]
    lead = {"email": "You can reach me at", "phone": "Call me on", "credit_card": "Charge my card", "ssn": "My SSN is",
            "ip_address": "The server is at", "iban": "Send the refund to IBAN", "secret": "Here is the key:"}  # fmt: skip
    parts = [f.sentence()]
    for kind, value in pii:
        parts.append(f"{lead[kind]} {value}.")
        parts.append(f.sentence())
    return " ".join(parts)


def _assistant_table(v: _Values, pii: list[tuple[str, str]]) -> str:
    f = v.fake["en_US"]
    rows = "\n".join(f"| {f.name()} | {kind} | {value} |" for kind, value in pii)
    return f"{f.paragraph(nb_sentences=2)}\n\n| Name | Field | Value |\n|---|---|---|\n{rows}\n\n{f.sentence()}"


def _tool_call(v: _Values, pii: list[tuple[str, str]]) -> str:
    names = {"email": "email", "phone": "phone", "credit_card": "card_number", "ssn": "ssn", "ip_address": "ip", "iban": "iban", "secret": "api_key"}
    args = {"note": v.fake["en_US"].sentence()}
    args.update({names[kind]: value for kind, value in pii})
    call = {"id": "call_" + _hex(v, 24), "type": "function", "function": {"name": "update_customer", "arguments": json.dumps(args)}}
    return json.dumps({"role": "assistant", "tool_calls": [call]})


def _config(v: _Values, pii: list[tuple[str, str]]) -> str:
    lines = ["# settings", "LOG_LEVEL=info", f"SERVICE_NAME={v.fake['en_US'].word()}-api"]
    for kind, value in pii:
        name = {"secret": "OPENAI_API_KEY", "email": "ADMIN_EMAIL", "ip_address": "BIND_ADDR", "phone": "SUPPORT_PHONE"}.get(kind, kind.upper())
        lines.append(value if _composite(value) else f"{name}={value}")
    return "```bash\n" + "\n".join(lines) + "\n```"


def _log(v: _Values, pii: list[tuple[str, str]]) -> str:
    f = v.fake["en_US"]
    ts = f.date_time_between("-1y").isoformat() + "Z"
    fields = " ".join(value if _composite(value) else f"{kind}={value}" for kind, value in pii)
    return f"{ts} INFO handler request_id={uuid.UUID(int=v.rng.getrandbits(128))} latency_ms={v.rng.randint(3, 900)} {fields} msg=\"{f.sentence()}\""


def _foreign(v: _Values, pii: list[tuple[str, str]]) -> str:
    locale = v.rng.choice(["de_DE", "fr_FR", "ja_JP", "es_ES", "ru_RU", "zh_CN", "ar_AA", "pl_PL"])
    f = v.fake[locale]
    if locale in ("ja_JP", "zh_CN"):
        said = "連絡先は{}です。" if locale == "ja_JP" else "联系方式：{}。"
        return f.text(80) + "".join(said.format(value) for _, value in pii) + f.text(60)
    return f.sentence() + " " + " ".join(f"{_neutral_word(f)}: {value}." for _, value in pii) + " " + f.sentence()


_LOADED_WORDS = ("secret", "passw", "token", "key", "ssn", "phone", "tel", "call", "mobil", "fax", "cell")


def _neutral_word(f: Faker) -> str:
    """A word of the locale that does not itself name a kind of value (French has ``secret``)."""
    word = f.word()
    while any(w in word.lower() for w in _LOADED_WORDS):
        word = f.word()
    return word


def _stack_trace(v: _Values, pii: list[tuple[str, str]]) -> str:
    f = v.fake["en_US"]
    frames = "\n".join(f'  File "/srv/app/{f.word()}.py", line {v.rng.randint(10, 900)}, in {f.word()}\n    {f.word()}({f.word()})' for _ in range(v.rng.randint(2, 4)))
    said = {"email": "no account for", "phone": "cannot reach phone", "credit_card": "card declined:", "ssn": "SSN mismatch for",
            "ip_address": "connection refused by", "iban": "invalid IBAN", "secret": "auth failed with"}  # fmt: skip
    message = "; ".join(f"{said[kind]} {value}" for kind, value in pii) or f.sentence()
    return f"Traceback (most recent call last):\n{frames}\n{v.rng.choice(['ValueError', 'PaymentError', 'PermissionError'])}: {message}"


def _url(v: _Values, pii: list[tuple[str, str]]) -> str:
    """Values in a query string, percent-encoded as a browser or ``urlencode`` writes them."""
    names = {"email": "email", "phone": "phone", "credit_card": "card", "ssn": "ssn", "ip_address": "client_ip", "iban": "iban", "secret": "access_token"}
    params = [f"ref={v.fake['en_US'].word()}"]
    for kind, value in pii:
        raw = LABELS.get(value, value)
        shown = raw if "%" in raw else urllib.parse.quote(raw, safe="@:")
        RENDERED[value] = shown
        params.append(f"{names[kind]}={shown}")
    v.rng.shuffle(params)
    return f"GET https://app.{v.fake['en_US'].domain_name()}/api/v2/{v.fake['en_US'].word()}?{'&'.join(params)} HTTP/1.1"


def _shell(v: _Values, pii: list[tuple[str, str]]) -> str:
    said = {"email": 'git config --global user.email "{}"', "phone": 'twilio api:core:messages:create --to "{}" --body "ok"',
            "credit_card": "./charge.sh --card '{}' --amount 10", "ssn": "grep -rn '{}' /data/exports", "ip_address": "ping -c 3 {}",
            "iban": './payout --iban "{}"', "secret": "export API_KEY={}"}  # fmt: skip
    lines = ["$ cd ~/src/" + v.fake["en_US"].word()]
    for kind, value in pii:
        lines.append("$ " + (value if _composite(value) or value.startswith(("ssh ", "scp ", "rsync ")) else said[kind].format(value)))
    return "\n".join(lines + ["$ make test", f"ok  {v.rng.randint(3, 90)} passed"])


def _code(v: _Values, pii: list[tuple[str, str]]) -> str:
    names = {"email": "ADMIN_EMAIL", "phone": "SUPPORT_PHONE", "credit_card": "TEST_CARD", "ssn": "ssn", "ip_address": "DB_HOST", "iban": "PAYOUT_IBAN", "secret": "api_key"}
    lines = ["import os", "from app import client", ""]
    for kind, value in pii:
        lines.append(f'{names[kind]} = """{value}"""' if _composite(value) else f'{names[kind]} = "{value}"')
    lines += ["", f"def {v.fake['en_US'].word()}():", f"    return client.get({v.rng.randint(1, 99)})"]
    return "```python\n" + "\n".join(lines) + "\n```"


_CONTEXTS = (_chat_prompt, _assistant_table, _tool_call, _config, _log, _foreign, _stack_trace, _url, _shell, _code)
# Contexts that name each value (``My SSN is``, ``"ssn":``, ``phone=``): bare digits are fair to find there.
_NAMING = (_chat_prompt, _assistant_table, _tool_call, _config, _log, _stack_trace, _url, _code)
TYPES = ("email", "phone", "credit_card", "ssn", "ip_address", "iban", "secret")


def generate(n: int = 1500, seed: int = SEED) -> list[Sample]:
    """``n`` samples; about 70 % carry 1-3 PII values, every sample carries 1-3 hard negatives."""
    rng = random.Random(seed)
    Faker.seed(seed)
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "ja_JP", "nl_NL", "es_ES", "it_IT", "ru_RU", "zh_CN", "ar_AA", "pl_PL"])
    values = _Values(rng, fake)
    samples = []
    for _ in range(n):
        context = rng.choice(_CONTEXTS)
        RENDERED.clear()
        pii = [(k, _value(values, k, context)) for k in rng.sample(TYPES, rng.choice([0, 1, 1, 2, 3]))]
        negatives = [values.negative() for _ in range(rng.randint(1, 3))]
        text = context(values, pii)
        text += "\n" + " ".join(f"{fake['en_US'].word()} {value}," for _, value in negatives)
        samples.append(locate(text, pii, negatives))
    return samples


def _value(values: _Values, kind: str, context: Callable[..., str]) -> str:
    """A value of ``kind`` in a form that fits where it is written."""
    if kind in ("phone", "credit_card") and context is _tool_call and values.rng.random() < 0.4:
        return getattr(values, kind)().replace(" ", "\u00a0")  # pasted from a web page; JSON carries it as \u00a0
    if kind in ("ssn", "phone") and context in _NAMING:
        return getattr(values, kind)(named=True)
    if kind == "email" and context is _url:
        return values.url_email()
    if kind == "ip_address" and context is _shell and values.rng.random() < 0.6:
        return values.login()
    if kind == "phone" and context is _foreign and values.rng.random() < 0.3:
        return values.full_width_phone()
    return getattr(values, kind)()


def locate(text: str, pii: list[tuple[str, str]], negatives: list[tuple[str, str]]) -> Sample:
    sample = Sample(text)
    for bucket, items in ((sample.positives, pii), (sample.negatives, negatives)):
        for kind, shown in items:
            value = LABELS.get(shown, shown)
            if shown in LABELS:
                pass  # the labeled part was set where it was made
            elif kind == "ip_address" and shown.startswith(("[", "http")):
                value = shown.split("]")[0].lstrip("[") if shown.startswith("[") else shown.split("/")[2]
            elif kind == "ip_address" and shown.count(":") == 1:
                value = shown.split(":")[0]
            elif kind == "email" and shown.startswith(("<", "mailto:")):
                value = shown.strip("<>").removeprefix("mailto:")
            if shown in RENDERED and "%" not in value:
                value = urllib.parse.quote(value, safe="@:")  # as the context wrote it
            escaped = json.dumps(value)[1:-1]
            for form in (escaped, json.dumps(escaped)[1:-1]):  # inside JSON, or JSON inside JSON
                if value not in text and form in text:
                    value = form
            start = text.find(value)
            while start != -1:
                bucket.append((kind, start, start + len(value)))
                start = text.find(value, start + len(value))
    return sample


def clean_chat_text(megabytes: float, seed: int = SEED) -> str:
    """Mostly clean chat text (prose, lists, code, numbers) of about ``megabytes`` MB, for throughput."""
    rng = random.Random(seed)
    Faker.seed(seed)
    fake = Faker(["en_US", "de_DE"])
    parts: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        r = rng.random()
        if r < 0.6:
            part = fake["en_US"].paragraph(nb_sentences=rng.randint(2, 6))
        elif r < 0.7:
            part = "\n".join(f"{i}. {fake['en_US'].sentence()}" for i in range(1, rng.randint(3, 7)))
        elif r < 0.8:
            part = f"```python\ndef {fake['en_US'].word()}(x: int) -> int:\n    return x * {rng.randint(2, 99)}  # {fake['en_US'].sentence()}\n```"
        elif r < 0.9:
            part = f"In {rng.randint(1990, 2026)} the team shipped {rng.randint(2, 500)} features for ${rng.randint(1, 999)},{rng.randint(100, 999)}.{rng.randint(10, 99)}, version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)} on {fake['en_US'].date()}."
        else:
            part = fake["de_DE"].paragraph(nb_sentences=3)
        parts.append(part)
        size += len(part.encode()) + 1
    return "\n".join(parts)


def with_pii(text: str, fraction: float, seed: int = SEED, evasive: bool = False) -> str:
    """``text`` with PII values inserted until they make up about ``fraction`` of its bytes; in evasive
    forms too (one in ten or so) if ``evasive``."""
    rng = random.Random(seed + 1)
    Faker.seed(seed + 1)
    values = _Values(rng, Faker(["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT"]), evasive)
    words = text.split(" ")
    budget = len(text) * fraction
    inserted = 0.0
    while inserted < budget:
        value = getattr(values, rng.choice(TYPES))()
        words.insert(rng.randrange(len(words)), value)
        inserted += len(value) + 1
    return " ".join(words)
