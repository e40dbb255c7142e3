"""``doctor``: what is installed, what gets instrumented, and where records go."""

from __future__ import annotations

import importlib
import os
import platform
from importlib import metadata
from typing import Any, Mapping

from .. import environment_variables as env
from .._config import Settings, safe_url
from .._destinations._spool import open_spool
from .._destinations._store import SQLiteStore
from .._frameworks import FRAMEWORKS
from .._instrumentors import INSTRUMENTORS
from .._pii._prefilter import engine as prefilter_engine
from .._scope._current import current_pipeline

_PACKAGES = ("opentelemetry-sdk", "opentelemetry-semantic-conventions", "genai-prices")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def diagnose(settings: Settings) -> dict[str, Any]:
    sdks = {}
    for name, (instrumentor_module, class_name) in INSTRUMENTORS.items():
        instrumentor = getattr(importlib.import_module(instrumentor_module), class_name)  # light: it imports no SDK
        version = _version(instrumentor._package)
        sdks[name] = {"version": version, "status": "not installed" if version is None else "instrumented by register() when the app imports it"}
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in ("otel-aitracer",) + _PACKAGES},
        "sdks": sdks,
        "frameworks": _frameworks(),
        "destination": settings.destination,
        "why": settings.why,
        "project": settings.project,
        "pii": _pii(settings),
        "environment": {name: _shown(name, os.environ[name]) for name in sorted(os.environ) if name.startswith("AITRACER_")},
    }
    if not settings.api_key and settings.store.exists():
        report["store_records"] = SQLiteStore(settings.store).count()
    url = settings.base_url if settings.api_key else settings.cluster_endpoint
    if url:
        spool = open_spool(url, settings.api_key or "")
        requests, items, size = spool.pending()
        report["spool"] = {"path": spool.path, "pending_items": items, "pending_requests": requests, "bytes": size}
        spool.close()
    pipeline = current_pipeline()
    if pipeline is not None:
        report["pipeline"] = pipeline.stats()
    return report


def _shown(name: str, value: str) -> str:
    """An environment value as doctor prints it: keys and salts hidden, passwords in URLs masked."""
    if "KEY" in name or "SALT" in name:
        return "<set>"
    return safe_url(value) if "://" in value else value


def _frameworks() -> dict[str, dict[str, Any]]:
    """Each agent framework: its version, and whether register() traces it (this process's pipeline decides,
    where there is one; otherwise every installed one would be)."""
    distributions = metadata.packages_distributions()
    pipeline = current_pipeline()
    found = {}
    for name, (module, *_) in FRAMEWORKS.items():
        version = next((v for d in _providing(module, distributions) if (v := _version(d))), None)
        if version is None:
            status = "not installed"
        elif pipeline is not None and name not in pipeline.frameworks:
            status = "installed; off (register(frameworks=...))"
        else:
            status = "traced by register() when the app imports it"
        found[name] = {"version": version, "status": status}
    return found


def _providing(module: str, distributions: Mapping[str, list[str]]) -> list[str]:
    """The distributions that install ``module``: for a namespace package's module (``google.adk``), only those
    whose files hold it, not every ``google-*`` one."""
    top, _, rest = module.partition(".")
    candidates = distributions.get(top, [])
    if not rest:
        return candidates
    path = module.replace(".", "/") + "/"
    return [d for d in candidates if any(str(f).startswith(path) for f in metadata.files(d) or ())]


def _pii(settings: Settings) -> str:
    if not settings.pii_detection:
        return f"off ({env.AITRACER_PII_DETECTION}=false or pii_detection=False): records keep prompts and answers as sent"
    types = ", ".join(settings.pii_types) if settings.pii_types is not None else "all types"
    return f"{settings.pii_action} {types}; candidates found by {prefilter_engine()}"


def render(report: dict[str, Any]) -> str:
    lines = [f"python {report['python']}"]
    lines += [f"  {name} {version or '(not installed)'}" for name, version in report["packages"].items()]
    lines.append("LLM SDKs:")
    lines += [f"  {name}: {info['version'] or '-'}  {info['status']}" for name, info in report["sdks"].items()]
    lines.append("agent frameworks:")
    lines += [f"  {name}: {info['version'] or '-'}  {info['status']}" for name, info in report["frameworks"].items()]
    lines.append(f"records go to: {report['destination']}  ({report['why']})")
    lines.append(f"default project: {report['project']}")
    lines.append(f"PII redaction: {report['pii']}")
    if "store_records" in report:
        lines.append(f"records in store: {report['store_records']}")
    if "spool" in report:
        spool = report["spool"]
        lines.append(f"spool: {spool['pending_items']} items waiting ({spool['bytes']} bytes) in {spool['path']}")
    if "pipeline" in report:
        stats = report["pipeline"]
        dropped = ", ".join(f"{k} {v}" for k, v in stats["dropped"].items() if v) or "none"
        lines.append(f"this process: written {stats['written']}, sent {stats['sent']}, pending {stats['pending']}; dropped: {dropped}")
    for name, value in report["environment"].items():
        lines.append(f"  {name}={value}")
    return "\n".join(lines)
