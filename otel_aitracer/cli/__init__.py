"""The ``otel-aitracer`` command: demo, serve, logs, trace, stats, prune, doctor, verify."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
from typing import Callable, Sequence, TypeVar

import orjson

from .._config import env_text, resolve_settings
from .._destinations._filters import FILTERS, INTEGER_FILTERS, ORDERS, STATS_ORDERS
from .._destinations._pg_store import PostgresStore, is_postgres_dsn
from .._destinations._store import SQLiteStore
from ..exceptions import APIError, ConfigurationError
from . import _doctor, _records, _stats, _table
from ._analyze import PROVIDERS
from ._sources import ServerSource, Source, StoreSource

_FILTER_HELP = {
    "project": "only this project's records",
    "session": "only this session's records",
    "user": "only this end user's records (app_user_id)",
    "trace": "only this trace's records (its id, or at least its first 4 hex digits)",
    "model": "only calls to this model: the one asked for (gpt-4o-mini) or the one that answered (gpt-4o-mini-2024-07-18)",
    "status": "only successful or failed records",
    "min_score": "only records with at least this many anomaly points (100: critical)",
    "code": "only records with this anomaly code (e.g. 2001)",
}
_FILTER_CHOICES = {"status": ("success", "error")}
T = TypeVar("T")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be from 0 (any free one) to 65535, got {text!r}")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otel-aitracer", description="LLM observability on OpenTelemetry.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def reader(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--store", help="SQLite store to read, or a postgresql:// DSN (default: $AITRACER_STORE or ./aitracer.db)")
        sub.add_argument("--server", help="read from a running otel-aitracer serve at this URL instead")
        sub.add_argument("--api-key", help="key for --server (default: $AITRACER_API_KEY)")
        sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
        return sub

    demo = commands.add_parser("demo", help="run offline LLM calls against a local fake API and show the records")
    demo.add_argument("--store", help="store to fill (default: $AITRACER_STORE or ./aitracer.db)")

    logs = reader("logs", "list records, newest first")
    for name in FILTERS:
        logs.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int if name in INTEGER_FILTERS else str, help=_FILTER_HELP[name], choices=_FILTER_CHOICES.get(name))
    logs.add_argument("--limit", type=int, default=50, help="at most this many records (default 50)")
    logs.add_argument("--sort", choices=ORDERS, default="time", help="time: newest first; anomaly: highest anomaly score first")

    trace = reader("trace", "show one trace as a tree")
    trace.add_argument("trace_id", help="the trace's id, or at least its first 4 hex digits")

    stats = reader("stats", "requests, tokens, cost, errors and latency per group")
    stats.add_argument("--by", choices=sorted(_stats.GROUPS), default="project", help="the groups (default: project)")
    stats.add_argument("--project", help="only this project's records")
    stats.add_argument("--sort", choices=STATS_ORDERS, default="requests", help="requests: busiest groups first; critical: most critical records first")

    serve = commands.add_parser("serve", help="run the ingest server (OTLP/HTTP /v1/traces and the AITracer API)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    serve.add_argument("--port", type=_port, default=4318, help="OTLP/HTTP and API port (default 4318, as the OTLP exporters expect)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (they share the store; default 1)")
    serve.add_argument("--grpc-port", type=_port, help="also receive OTLP/gRPC on this port (4317 by convention)")
    serve.add_argument("--store", help="SQLite file or postgresql:// DSN (default: $AITRACER_SERVER_STORE or ./aitracer-server.db)")
    serve.add_argument("--keys", help='JSON file {"key": ["project", ...]} (also $AITRACER_SERVER_KEYS="key=p1,p2;key2=p3")')
    serve.add_argument("--retention-days", type=float, help="delete records older than this, in the background (per project: $AITRACER_RETENTION=chatbot=30,search=7)")
    serve.add_argument("--alerts", help="alerts file (TOML): rules checked as records arrive, sent to Slack / Sentry (also $AITRACER_ALERTS)")

    prune = commands.add_parser("prune", help="delete records older than a given age from a store")
    prune.add_argument("--older-than", required=True, type=_age, help="an age: 30d, 12h, 90m")
    prune.add_argument("--project", help="only this project's records (default: every project)")
    prune.add_argument("--store", help="SQLite store or postgresql:// DSN (default: $AITRACER_STORE or ./aitracer.db)")

    doctor = commands.add_parser("doctor", help="what is installed, instrumented, and where records go")
    doctor.add_argument("--json", action="store_true", help="print JSON instead of text")

    ui = commands.add_parser("ui", help="the web UI on a local store (serve has it at /ui/)")
    ui.add_argument("--store", help="SQLite store or postgresql:// DSN (default: $AITRACER_STORE or ./aitracer.db)")
    ui.add_argument("--server", help="a running otel-aitracer serve: its UI is at this URL's /ui/ (printed, nothing started)")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    ui.add_argument("--port", type=_port, default=8765, help="port (default 8765)")

    analyze = reader("analyze", "ask a model what went wrong in a run (its steps, codes and redacted content) and keep the report")
    analyze.add_argument("trace_id", metavar="RUN", help="the run's trace id")
    analyze.add_argument("--provider", choices=list(PROVIDERS), help="default: the first whose API key is set")
    analyze.add_argument("--model", help="default: " + ", ".join(f"{model} ({provider})" for provider, (_, model) in PROVIDERS.items()))
    analyze.add_argument("--stored", action="store_true", help="print the report kept from an earlier analysis; ask no model")

    alerts = commands.add_parser("alerts", help="alert rules: send a test ping to every destination")
    alerts.add_argument("action", choices=["test"], help="test: send a test alert to each destination in the file")
    alerts.add_argument("--config", help="the alerts file (default: $AITRACER_ALERTS)")

    verify = commands.add_parser("verify", help="check a decision log's hash chain; name the first changed, removed or inserted line")
    verify.add_argument("file", help="the decision log (register(decision_log=...) or $AITRACER_DECISION_LOG)")
    return parser


_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``: the age ``prune --older-than`` takes."""
    number, unit = text[:-1], text[-1:].lower()
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if unit not in _UNITS or not value > 0:
        raise argparse.ArgumentTypeError(f"expected an age such as 30d, 12h or 90m, got {text!r}")
    return timedelta(seconds=value * _UNITS[unit])


def _open_store(path: str | None) -> SQLiteStore | PostgresStore:
    if path is not None and is_postgres_dsn(path):
        return PostgresStore(path)
    settings = resolve_settings(store=path)
    if not settings.store.exists():
        raise ConfigurationError(f"no store at {settings.store}; run `otel-aitracer demo` or pass --store")
    return SQLiteStore(settings.store)


def _source(args: argparse.Namespace) -> Source:
    if args.server:
        from .. import environment_variables as env

        return ServerSource(args.server, args.api_key or env_text(env.AITRACER_API_KEY))
    return StoreSource(_open_store(args.store))


def _verify(file: str) -> int:
    from pathlib import Path

    from .._audit import verify

    path = Path(file)
    if not path.is_file():
        raise ConfigurationError(f"no decision log at {path}")
    intact, what = verify(path)
    print(f"{path}: {'intact' if intact else 'TAMPERED'}: {what}")
    return 0 if intact else 1


def _analyze_run(args: argparse.Namespace) -> int:
    from . import _analyze as analysis  # the module (this package's function is _analyze_run)

    if args.server:
        raise ConfigurationError("analyze reads and keeps its report in a store: pass --store (a SQLite file or a postgresql:// DSN)")
    store = _open_store(args.store)
    trace_id = args.trace_id.lower()
    report = analysis.kept_report(store, trace_id) if args.stored else analysis.analyze(store, trace_id, args.provider, args.model)
    if report is None:
        raise ConfigurationError(f"no analysis kept for run {trace_id}; run `otel-aitracer analyze {trace_id}`")
    _print_json(report) if args.json else print(analysis.render(report))
    return 0


def _ui(args: argparse.Namespace) -> int:
    if args.server:
        print(f"{args.server.rstrip('/')}/ui/ (serve has the UI; sign in there with an API key if it has keys)")
        return 0
    try:
        import uvicorn

        from .. import ui
    except ImportError:
        raise ConfigurationError("the web UI needs the ui extra: pip install 'otel-aitracer[ui]'") from None
    from . import _analyze as analysis

    store = _open_store(args.store)
    can_analyze = analysis.configured_provider() is not None
    app = ui.local_app(store, (lambda trace_id: analysis.analyze(store, trace_id)) if can_analyze else None)
    print(f"otel-aitracer UI on {store.path}: http://{args.host}:{args.port}/ui/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _alerts_test(config: str | None) -> int:
    from .._alerts import load_alerts, test_ping

    path = config or resolve_settings().alerts
    if path is None:
        raise ConfigurationError("no alerts file: pass --config FILE or set AITRACER_ALERTS")
    results = test_ping(load_alerts(path))
    for name, problem in results.items():
        print(f"{name}: {'delivered' if problem is None else 'FAILED: ' + problem}")
    return 0 if all(problem is None for problem in results.values()) else 1


def _checked(read: Callable[[], T]) -> T:
    """A read whose filter value the store refused (a bad trace prefix, say), as a clear error."""
    try:
        return read()
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `otel-aitracer`: what it can do
        parser.print_help()
        return 0
    try:
        return _run(args)
    except (ConfigurationError, APIError) as exc:
        print(f"otel-aitracer: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader left (`| head`): nothing more to print, and no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from ..demo import run_demo

        return run_demo(args.store)
    if args.command == "serve":
        from ..server import serve

        serve(args.host, args.port, args.workers, args.store, args.keys, args.grpc_port, retention_days=args.retention_days, alerts=args.alerts)
        return 0
    if args.command == "alerts":
        return _alerts_test(args.config)
    if args.command == "analyze":
        return _analyze_run(args)
    if args.command == "ui":
        return _ui(args)
    if args.command == "prune":
        from .._destinations._retention import cutoff as retention_cutoff

        store = _open_store(args.store)
        cutoff = retention_cutoff(args.older_than)
        deleted = store.prune(cutoff, project=args.project)
        print(f"deleted {deleted} records started before {cutoff}" + (f" in project {args.project}" if args.project else ""))
        return 0
    if args.command == "verify":
        return _verify(args.file)
    if args.command == "doctor":
        report = _doctor.diagnose(resolve_settings())
        _print_json(report) if args.json else print(_doctor.render(report))
        return 0
    source = _source(args)
    if args.command == "logs":
        filters = {k: getattr(args, k) for k in FILTERS}
        records = _checked(lambda: source.logs(args.limit, order=args.sort, **filters))
        _print_json(records) if args.json else print(_records.logs_table(records, _table.terminal_width()) if records else "no records match")
        return 0
    if args.command == "trace":
        records = _checked(lambda: source.trace(args.trace_id.lower()))
        if not records:
            print(f"otel-aitracer: no records for trace {args.trace_id}", file=sys.stderr)
            return 1
        found = sorted({r["trace_id"] for r in records})
        if len(found) > 1:
            raise ConfigurationError(f"{args.trace_id} starts {len(found)} trace ids ({', '.join(found[:5])}{', …' if len(found) > 5 else ''}); give more of it")
        _print_json(records) if args.json else print(_records.trace_tree(records))
        return 0
    rows = source.stats(args.by, args.project, args.sort)
    _print_json(rows) if args.json else print(_stats.stats_table(rows, args.by))
    return 0
