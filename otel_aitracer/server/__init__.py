"""``otel-aitracer serve``: an ingest server an OpenTelemetry Collector (or an app) can point at.

Starlette on uvicorn; ``--workers N`` runs N processes sharing one SQLite store
(WAL). Workers are separate processes, so their configuration travels in
``AITRACER_SERVER_*`` environment variables and each builds its app with
:func:`app_from_env`.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from .._config import env_bool, env_number, env_text
from .._destinations._retention import Retention
from ._app import ServerConfig, create_app
from ._auth import Keys
from ._protocol import BoundedHttpProtocol, read_timeout

__all__ = ["ServerConfig", "app_from_env", "create_app", "serve"]

STORE = "AITRACER_SERVER_STORE"
KEYS = "AITRACER_SERVER_KEYS"
KEYS_FILE = "AITRACER_SERVER_KEYS_FILE"
MAX_BODY_MB = "AITRACER_SERVER_MAX_BODY_MB"
MAX_DECOMPRESSED_MB = "AITRACER_SERVER_MAX_DECOMPRESSED_MB"
GRPC_PORT = "AITRACER_SERVER_GRPC_PORT"
GRPC_HOST = "AITRACER_SERVER_GRPC_HOST"
PII_DETECTION = "AITRACER_PII_DETECTION"
MAX_RECORDS = "AITRACER_SERVER_MAX_RECORDS"
MAX_CONNECTIONS = "AITRACER_SERVER_MAX_CONNECTIONS"
RETENTION_DAYS = "AITRACER_SERVER_RETENTION_DAYS"  # --retention-days, for the workers
RETENTION = "AITRACER_RETENTION"  # per project: chatbot=30,search=7
HTTP_PORT = "AITRACER_SERVER_HTTP_PORT"  # --port, for the workers
DEFAULT_PORT = 4318


def config_from_env() -> ServerConfig:
    return ServerConfig(
        store=env_text(STORE, "aitracer-server.db") or "aitracer-server.db",
        keys=Keys.load(env_text(KEYS_FILE), env_text(KEYS)),
        max_body_bytes=int(env_number(MAX_BODY_MB, 16) * 1024 * 1024),
        max_decompressed_bytes=int(env_number(MAX_DECOMPRESSED_MB, 64) * 1024 * 1024),
        pii_detection=env_bool(PII_DETECTION, True),
        grpc_host=env_text(GRPC_HOST, "127.0.0.1") or "127.0.0.1",
        grpc_port=_port(GRPC_PORT),
        read_timeout=read_timeout(),
        max_records=int(env_number(MAX_RECORDS, 20_000)),
        max_connections=int(env_number(MAX_CONNECTIONS, 1000)),
        retention=Retention.parse(float(days) if (days := env_text(RETENTION_DAYS)) else None, env_text(RETENTION)),
        http_port=_port(HTTP_PORT),
    )


def _port(name: str) -> int | None:
    return int(port) if (port := env_text(name, "")) and port.isdigit() else None


def app_from_env() -> Starlette:
    """The app a uvicorn worker serves (``uvicorn --factory otel_aitracer.server:app_from_env``)."""
    return create_app(config_from_env())


def _check_free(host: str, port: int, what: str) -> None:
    """A clear error now for a port another process holds."""
    import socket

    from ..exceptions import ConfigurationError

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(f"{what} port {port} is in use on {host} ({exc.strerror}); choose another with --grpc-port") from None


def serve(
    host: str, port: int, workers: int, store: str | None, keys_file: str | None, grpc_port: int | None = None, log_level: str = "info",
    retention_days: float | None = None, alerts: str | None = None,
) -> None:  # fmt: skip
    import uvicorn

    from .. import environment_variables as env
    from .._alerts import load_alerts

    if retention_days is not None:
        os.environ[RETENTION_DAYS] = str(retention_days)
    if grpc_port is not None:
        _check_free(host, grpc_port, "gRPC")  # a worker would fail to bind it, with a traceback, after HTTP started
        os.environ[GRPC_PORT], os.environ[GRPC_HOST] = str(grpc_port), host
    os.environ[HTTP_PORT] = str(port)
    if store:
        os.environ[STORE] = store
    if keys_file:
        os.environ[KEYS_FILE] = keys_file
    if alerts:
        load_alerts(alerts)  # a bad file fails here, once, before any worker starts
        os.environ[env.AITRACER_ALERTS] = alerts
    config = config_from_env()  # a bad configuration fails here, once, with a clear message
    uvicorn.run(
        "otel_aitracer.server:app_from_env", factory=True, host=host, port=port, workers=workers,
        log_level=log_level, access_log=False, timeout_graceful_shutdown=10, http=BoundedHttpProtocol,
        limit_concurrency=config.max_connections,
    )  # fmt: skip
