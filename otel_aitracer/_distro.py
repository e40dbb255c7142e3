"""Zero-code setup: ``opentelemetry-instrument python app.py`` with only otel-aitracer installed.

``opentelemetry-instrument`` needs a distro (defaults) and a configurator (builds
the SDK from ``OTEL_*`` variables); ``opentelemetry-distro`` ships both, exporting
OTLP. Ours does the same with records as the default traces exporter, so the
one command records every LLM call to the local store or the AITracer API. With
``opentelemetry-distro`` also installed, pick with ``OTEL_PYTHON_DISTRO`` /
``OTEL_PYTHON_CONFIGURATOR``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from opentelemetry.environment_variables import (
    OTEL_LOGS_EXPORTER,
    OTEL_METRICS_EXPORTER,
    OTEL_TRACES_EXPORTER,
)
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]  # mypy misses it (it is in __all__)
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_DISTRO
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
)

_OTLP_ENDPOINTS = (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
_OTLP_PROTOCOLS = (OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)


class AITracerDistro(BaseDistro):
    """Records are the default traces exporter; metrics and logs go nowhere unless configured.

    An explicit OTLP setup is never rerouted: when the app names an OTLP endpoint and no
    traces exporter, traces go to OTLP, over ``http/protobuf`` (the OpenTelemetry
    specification's default, and what a ``…:4318/v1/traces`` endpoint speaks) unless the app
    sets a protocol. With ``opentelemetry-distro`` installed too, and ours not chosen by
    ``OTEL_PYTHON_DISTRO``, its defaults apply: an existing setup keeps exporting where it did.
    """

    def _configure(self, **kwargs: Any) -> None:
        environ = os.environ
        if environ.get(OTEL_PYTHON_DISTRO) != "aitracer" and importlib.util.find_spec("opentelemetry.distro") is not None:
            from opentelemetry.distro import OpenTelemetryDistro

            OpenTelemetryDistro()._configure(**kwargs)
            return
        named_otlp = any(environ.get(name) for name in _OTLP_ENDPOINTS)
        environ.setdefault(OTEL_TRACES_EXPORTER, "otlp" if named_otlp else "aitracer")
        if "otlp" in environ[OTEL_TRACES_EXPORTER].split(",") and not any(environ.get(name) for name in _OTLP_PROTOCOLS):
            environ[OTEL_EXPORTER_OTLP_TRACES_PROTOCOL] = "http/protobuf"
        environ.setdefault(OTEL_METRICS_EXPORTER, "none")
        environ.setdefault(OTEL_LOGS_EXPORTER, "none")


class AITracerConfigurator(_OTelSDKConfigurator):
    """The OpenTelemetry SDK's own configuration from ``OTEL_*`` variables, plus scope stamping
    (``session()``, ``project()``, … reach spans whichever exporter sends them, OTLP to serve included)."""

    def _configure(self, **kwargs: Any) -> None:
        super()._configure(**kwargs)
        from ._scope._stamping import install_stamping

        install_stamping()
