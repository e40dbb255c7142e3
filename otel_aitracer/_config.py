"""Where records go and how they are shaped: argument > environment variable > default.

Bad arguments raise :class:`ConfigurationError` at construction; bad environment
values log a warning and fall back to the default, as the OTel SDK does.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from . import environment_variables as env
from ._guard import warn_once
from .exceptions import ConfigurationError

_logger = logging.getLogger(__name__)

DEFAULT_PROJECT = "default"
DEFAULT_BASE_URL = "https://api.aitracer.co"
DEFAULT_STORE = "aitracer.db"
DEFAULT_MAX_RECORD_BYTES = 512 * 1024
PII_ACTIONS = ("mask", "redact", "hash", "none")
PII_TYPES = ("email", "phone", "credit_card", "ssn", "ip_address", "iban", "secret", "person", "street_address")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _warn_bad_env(name: str, raw: str, why: str, default: Any) -> None:
    """Log a bad environment value once per variable and value (a resolver runs for every entry point)."""
    warn_once(("env", name, raw), "%s=%r %s; using %s", name, raw, why, default)


def safe_text(text: str, url: str) -> str:
    """``text`` (an error message, say) with ``url``'s password masked."""
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


def safe_url(url: str) -> str:
    """``url`` without a password in its userinfo, fit to print in logs and ``doctor``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


@dataclass(frozen=True)
class Settings:
    """Resolved options shared by the processor, the exporter and ``register()``."""

    project: str
    api_key: str | None
    base_url: str
    store: Path
    capture_content: bool
    sync: bool
    environment: str | None
    pii_detection: bool
    pii_action: str
    pii_types: tuple[str, ...] | None
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    cluster_endpoint: str | None = None  # the in-cluster serve, when records go there (see ``route``)
    why: str = ""
    decision_log: Path | None = None  # the audit trail (SPEC §8)
    jsonl_mirror: Path | None = None
    store_raw_prompt: bool = False
    store_raw_response: bool = False
    anomaly_thresholds: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # project ("*": all) -> metric -> limit
    alerts: Path | None = None  # the alerts file (SPEC §9)

    @property
    def destination(self) -> str:
        if self.api_key:
            return f"AITracer API at {safe_url(self.base_url)}"
        if self.cluster_endpoint:
            return f"in-cluster otel-aitracer serve at {self.cluster_endpoint}"
        return f"local store {self.store}"


def route(api_key: str | None, store_given: bool) -> tuple[str | None, str]:
    """The in-cluster endpoint records go to (or None), and why: an API key or a store wins, then Kubernetes."""
    from ._kubernetes import DEFAULT_K8S_ENDPOINT, kubernetes_signal

    if api_key:
        return None, f"an API key is set ({env.AITRACER_API_KEY} or api_key=)"
    if store_given:
        return None, f"a store is set ({env.AITRACER_STORE} or store=)"
    configured = (os.environ.get(env.AITRACER_K8S_ENDPOINT) or "").strip()
    signal = kubernetes_signal() if configured.lower() != "off" else None
    if signal:
        endpoint = configured or DEFAULT_K8S_ENDPOINT
        if not endpoint.startswith(("http://", "https://")):
            _warn_bad_env(env.AITRACER_K8S_ENDPOINT, endpoint, "is not an http(s) URL", DEFAULT_K8S_ENDPOINT)
            endpoint = DEFAULT_K8S_ENDPOINT
        return endpoint.rstrip("/"), f"in Kubernetes ({signal}) with no API key and no store"
    return None, "no API key, no store set, not in Kubernetes: the default local store"


def first_set(choices: Mapping[str, Sequence[str]]) -> str | None:
    """The first choice one of whose variables is set (a provider SDK's key, say), in the order given."""
    for choice, names in choices.items():
        if any(env_text(name) for name in names):
            return choice
    return None


def env_text(name: str, default: str | None = None) -> str | None:
    """A variable's value, stripped; ``default`` when it is unset or empty. Every read of the environment goes through here."""
    raw = (os.environ.get(name) or "").strip()
    return raw or default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    _warn_bad_env(name, raw, "is not a boolean", default)
    return default


def _text(name: str, value: Any, env_name: str, default: str | None) -> str | None:
    if value is not None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}")
        return value
    return os.environ.get(env_name) or default


def resolve_settings(
    project: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    store: str | os.PathLike[str] | None = None,
    capture_content: bool | None = None,
    sync: bool = False,
    environment: str | None = None,
    pii_detection: bool | None = None,
    pii_action: str | None = None,
    pii_types: list[str] | tuple[str, ...] | None = None,
    *,
    decision_log: str | os.PathLike[str] | None = None,
    jsonl_mirror: str | os.PathLike[str] | None = None,
    store_raw_prompt: bool = False,
    store_raw_response: bool = False,
    alerts: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve every option once; raises :class:`ConfigurationError` for bad arguments."""
    url = _text("base_url", base_url, env.AITRACER_BASE_URL, DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"base_url must start with http:// or https://, got {url!r}")
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise ConfigurationError(f"store must be a path, got {store!r}")
    if pii_action is not None and pii_action not in PII_ACTIONS:
        raise ConfigurationError(f"pii_action must be one of {', '.join(PII_ACTIONS)}, got {pii_action!r}")
    if pii_types is not None:
        if isinstance(pii_types, str) or any(t not in PII_TYPES for t in pii_types):
            raise ConfigurationError(f"pii_types must be a list of {', '.join(PII_TYPES)}, got {pii_types!r}")
    for name, value in (("decision_log", decision_log), ("jsonl_mirror", jsonl_mirror), ("alerts", alerts)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise ConfigurationError(f"{name} must be a path, got {value!r}")
    key = _text("api_key", api_key, env.AITRACER_API_KEY, None)
    cluster_endpoint, why = route(key, store is not None or bool(os.environ.get(env.AITRACER_STORE)))
    return Settings(
        project=_text("project", project, env.AITRACER_PROJECT, DEFAULT_PROJECT) or DEFAULT_PROJECT,
        api_key=key,
        base_url=url.rstrip("/"),
        store=Path(store if store is not None else os.environ.get(env.AITRACER_STORE) or DEFAULT_STORE),
        capture_content=env_bool(env.AITRACER_CAPTURE_CONTENT, True) if capture_content is None else bool(capture_content),
        sync=bool(sync),
        environment=_text("environment", environment, env.AITRACER_ENVIRONMENT, None),
        pii_detection=env_bool(env.AITRACER_PII_DETECTION, True) if pii_detection is None else bool(pii_detection),
        pii_action=pii_action if pii_action is not None else _env_choice(env.AITRACER_PII_ACTION, PII_ACTIONS, "mask"),
        pii_types=tuple(pii_types) if pii_types is not None else _env_types(),
        max_record_bytes=int(env_number(env.AITRACER_MAX_RECORD_BYTES, DEFAULT_MAX_RECORD_BYTES)),
        cluster_endpoint=cluster_endpoint,
        why=why,
        decision_log=_path(decision_log, env.AITRACER_DECISION_LOG),
        jsonl_mirror=_path(jsonl_mirror, env.AITRACER_JSONL_MIRROR),
        store_raw_prompt=bool(store_raw_prompt),
        store_raw_response=bool(store_raw_response),
        anomaly_thresholds=_anomaly_thresholds(),
        alerts=_path(alerts, env.AITRACER_ALERTS),
    )


_THRESHOLD_METRICS = ("latency_ms", "cost", "token_ratio")


def _anomaly_thresholds() -> dict[str, dict[str, float]]:
    """``AITRACER_ANOMALY_THRESHOLDS``: JSON, project (or ``*``) -> {latency_ms, cost, token_ratio} -> a positive
    number; a bad value warns and is left out (the baselines then decide)."""
    raw = env_text(env.AITRACER_ANOMALY_THRESHOLDS)
    if raw is None:
        return {}
    try:
        parsed = json.loads(raw)
        if not isinstance(parsed, dict):
            raise ValueError("not an object")
    except ValueError:
        _warn_bad_env(env.AITRACER_ANOMALY_THRESHOLDS, raw, "is not a JSON object of projects", "no overrides")
        return {}
    found: dict[str, dict[str, float]] = {}
    for project, limits in parsed.items():
        good = {m: float(v) for m, v in (limits.items() if isinstance(limits, dict) else ()) if m in _THRESHOLD_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0}
        if not isinstance(limits, dict) or len(good) != len(limits):
            _warn_bad_env(env.AITRACER_ANOMALY_THRESHOLDS, json.dumps({project: limits}), f"must map {', '.join(_THRESHOLD_METRICS)} to positive numbers", "only the good ones")
        if good:
            found[str(project)] = good
    return found


def _path(value: str | os.PathLike[str] | None, env_name: str) -> Path | None:
    configured = value if value is not None else (os.environ.get(env_name) or "").strip()
    return Path(configured) if configured else None


def env_number(name: str, default: float) -> float:
    """A positive number from the environment; a bad value logs a warning and gives ``default``."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value > 0:
        return value
    _warn_bad_env(name, raw, "is not a positive number", default)
    return default


def default_spool_dir() -> Path:
    configured = os.environ.get(env.AITRACER_SPOOL_DIR)
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "otel-aitracer" / "spool"


def _env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in choices:
        return raw
    _warn_bad_env(name, raw, f"is not one of {', '.join(choices)}", default)
    return default


def _env_types() -> tuple[str, ...] | None:
    raw = os.environ.get(env.AITRACER_PII_TYPES)
    if raw is None or not raw.strip():
        return None
    names = [t.strip().lower() for t in raw.split(",") if t.strip()]
    unknown = [t for t in names if t not in PII_TYPES]
    if unknown:
        _warn_bad_env(env.AITRACER_PII_TYPES, raw, f"names unknown PII types {unknown} (known: {', '.join(PII_TYPES)})", "the others")
    return tuple(t for t in names if t in PII_TYPES)
