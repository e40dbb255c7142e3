"""The alerts file (SPEC §9): rules per project and where their alerts go, read from TOML and checked whole,
so a mistake is one clear error at start-up instead of an alert that never comes."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from .._record_kinds import CRITICAL
from ..exceptions import ConfigurationError

KINDS = ("error_rate", "daily_cost", "p95_latency", "critical_anomaly")
DESTINATION_TYPES = ("slack", "sentry")
_WINDOW = re.compile(r"^(\d+)\s*([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DEFAULT_WINDOW = {"error_rate": 900.0, "p95_latency": 900.0, "daily_cost": 86400.0, "critical_anomaly": 0.0}


@dataclass(frozen=True)
class Destination:
    name: str
    type: str  # slack | sentry
    url: str  # the Slack webhook, or the Sentry DSN


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    project: str  # "*": every project
    threshold: float  # error_rate: a share (0.2); daily_cost: USD; p95_latency: ms; critical_anomaly: points (100)
    window: float  # seconds; daily_cost: a UTC day; critical_anomaly 0: every critical record alerts
    min_calls: int
    destinations: tuple[str, ...]

    def applies_to(self, project: str) -> bool:
        return self.project in ("*", project)


@dataclass(frozen=True)
class AlertConfig:
    rules: tuple[Rule, ...]
    destinations: dict[str, Destination] = field(default_factory=dict)
    link: str | None = None  # where a run can be seen: "{trace_id}" in it is replaced (a UI); else the CLI command


def load_alerts(path: str | Path) -> AlertConfig:
    """The alerts file at ``path``; :class:`ConfigurationError` names the file and the first mistake."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the alerts file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"the alerts file {path} is not valid TOML: {exc}") from None
    try:
        return parse_alerts(document)
    except ValueError as exc:
        raise ConfigurationError(f"the alerts file {path}: {exc}") from None


def parse_alerts(document: dict[str, Any]) -> AlertConfig:
    unknown = set(document) - {"destinations", "rules", "link"}
    if unknown:
        raise ValueError(f"unknown section {sorted(unknown)[0]!r} (known: destinations, rules, link)")
    destinations = {name: _destination(name, spec) for name, spec in _table(document.get("destinations", {}), "destinations").items()}
    rules = tuple(_rule(n, spec, destinations) for n, spec in enumerate(_list(document.get("rules", []), "rules")))
    if not rules:
        raise ValueError("no [[rules]]: nothing would ever alert")
    link = document.get("link")
    if link is not None and not isinstance(link, str):
        raise ValueError("link must be a string (a URL with {trace_id} in it)")
    return AlertConfig(rules, destinations, link)


def _destination(name: str, spec: Any) -> Destination:
    spec = _table(spec, f"destinations.{name}")
    kind = spec.get("type")
    if kind not in DESTINATION_TYPES:
        raise ValueError(f"destinations.{name}: type must be one of {', '.join(DESTINATION_TYPES)}, got {kind!r}")
    key = "webhook_url" if kind == "slack" else "dsn"
    url = spec.get(key)
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ValueError(f"destinations.{name}: {key} must be an http(s) URL")
    if kind == "sentry" and (not urlsplit(url).username or not urlsplit(url).path.strip("/")):
        raise ValueError(f"destinations.{name}: dsn must look like https://<key>@<host>/<project id>")
    return Destination(name, kind, url)


def _rule(n: int, spec: Any, destinations: dict[str, Destination]) -> Rule:
    where = f"rules[{n}]"
    spec = _table(spec, where)
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    threshold = spec.get("threshold", CRITICAL if kind == "critical_anomaly" else None)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or threshold <= 0 or (kind == "error_rate" and threshold > 1):
        raise ValueError(f"{where}: threshold must be a positive number{' (a share of calls, at most 1)' if kind == 'error_rate' else ''}, got {threshold!r}")
    names = spec.get("destinations")
    if not isinstance(names, list) or not names or not all(isinstance(d, str) for d in names):
        raise ValueError(f"{where}: destinations must be a list of destination names")
    missing = [d for d in names if d not in destinations]
    if missing:
        raise ValueError(f"{where}: no destination named {missing[0]!r} (there are: {', '.join(destinations) or 'none'})")
    min_calls = spec.get("min_calls", 10)
    if not isinstance(min_calls, int) or isinstance(min_calls, bool) or min_calls < 1:
        raise ValueError(f"{where}: min_calls must be a positive integer")
    project = spec.get("project", "*")
    if not isinstance(project, str) or not project:
        raise ValueError(f"{where}: project must be a project name or \"*\"")
    return Rule(str(spec.get("name") or f"{kind} {project}"), kind, project, float(threshold), _window(spec.get("window"), kind, where), min_calls, tuple(names))


def _window(value: Any, kind: str, where: str) -> float:
    if value is None:
        return _DEFAULT_WINDOW[kind]
    if kind == "daily_cost":
        raise ValueError(f"{where}: a daily_cost rule's window is the UTC day; leave window out")
    match = _WINDOW.match(str(value).strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{where}: window must be like 30s, 15m, 1h or 1d, got {value!r}")
    return float(int(match.group(1)) * _SECONDS[match.group(2)])


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a table")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where} must be an array of tables ([[{where}]])")
    return value
