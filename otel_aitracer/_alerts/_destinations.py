"""What each destination is sent: a Slack incoming-webhook message, or a Sentry event in an envelope posted
to the endpoint the DSN names (tagged ``gen_ai.*`` as trace.ai does, so Sentry's AI views read it)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import orjson

from ._config import Destination
from ._rules import Alert

_CLIENT = "otel-aitracer/0.1"


def request_for(destination: Destination, alert: Alert, link: str | None) -> tuple[str, bytes, dict[str, str]]:
    """The URL, body and headers of the POST that delivers ``alert`` to ``destination``."""
    if destination.type == "slack":
        return destination.url, orjson.dumps(slack_message(alert, link)), {"Content-Type": "application/json"}
    return sentry_envelope(destination.url, alert)


def run_link(record: dict[str, Any] | None, link: str | None) -> str | None:
    """Where the run can be seen: the configured UI link, else the command that shows it."""
    trace_id = (record or {}).get("trace_id")
    if not trace_id:
        return None
    return link.replace("{trace_id}", str(trace_id)) if link else f"otel-aitracer trace {trace_id}"


def slack_message(alert: Alert, link: str | None) -> dict[str, Any]:
    rule = alert.rule
    fields = {"Project": alert.project, "Rule": f"{rule.name} ({rule.kind})", "Value": _shown(rule.kind, alert.value), "Threshold": _shown(rule.kind, rule.threshold)}
    run = run_link(alert.record, link)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*otel-aitracer alert* — {alert.summary}"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields.items()]},
    ]
    if run:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Run: {run}"}]})
    return {"text": f"otel-aitracer alert: {alert.project} / {rule.name}: {alert.summary}", "blocks": blocks, "otel_aitracer": {**fields, "run": run}}


def sentry_envelope(dsn: str, alert: Alert) -> tuple[str, bytes, dict[str, str]]:
    """The envelope endpoint the DSN names (``https://<key>@<host>[/<path>]/<project id>``), an event item, and the auth header."""
    parts = urlsplit(dsn)
    path, _, project_id = parts.path.rstrip("/").rpartition("/")
    port = f":{parts.port}" if parts.port else ""
    endpoint = f"{parts.scheme}://{parts.hostname}{port}{path}/api/{project_id}/envelope/"
    event = sentry_event(alert)
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    header = orjson.dumps({"event_id": event["event_id"], "dsn": dsn, "sent_at": now})
    item = orjson.dumps(event)
    body = header + b"\n" + orjson.dumps({"type": "event", "length": len(item), "content_type": "application/json"}) + b"\n" + item + b"\n"
    auth = f"Sentry sentry_version=7, sentry_key={parts.username}, sentry_client={_CLIENT}"
    return endpoint, body, {"Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": auth}


def sentry_event(alert: Alert) -> dict[str, Any]:
    record = alert.record or {}
    tags = {
        "aitracer.project": alert.project,
        "aitracer.rule": alert.rule.name,
        "aitracer.rule_kind": alert.rule.kind,
        "gen_ai.request.model": record.get("model"),
        "gen_ai.system": record.get("provider"),
        "gen_ai.operation.name": record.get("operation"),
        "gen_ai.usage.input_tokens": record.get("input_tokens"),
        "gen_ai.usage.output_tokens": record.get("output_tokens"),
        "aitracer.anomaly_codes": ",".join(map(str, record.get("anomaly_codes") or [])) or None,
    }
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": datetime.now(timezone.utc).timestamp(),
        "platform": "python",
        "level": "error" if alert.rule.kind == "critical_anomaly" else "warning",
        "logger": "otel-aitracer.alerts",
        "message": {"formatted": f"{alert.project} / {alert.rule.name}: {alert.summary}"},
        "tags": {k: str(v)[:200] for k, v in tags.items() if v is not None},
        "fingerprint": ["otel-aitracer", alert.rule.name, alert.project],
        "extra": {"value": alert.value, "threshold": alert.rule.threshold},
    }
    if record.get("trace_id") and record.get("span_id"):
        event["contexts"] = {"trace": {"trace_id": record["trace_id"], "span_id": record["span_id"], "op": "gen_ai." + str(record.get("operation"))}}
    return event


def _shown(kind: str, value: float) -> str:
    if kind == "error_rate":
        return f"{value:.0%}"
    if kind == "daily_cost":
        return f"${value:.2f}"
    if kind == "p95_latency":
        return f"{value:.0f} ms"
    return f"{value:.0f} points"
