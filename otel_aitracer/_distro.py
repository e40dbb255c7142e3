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

from opentelemetry.environment_variables import OTEL_LOGS_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER
from opentelemetry.instrumentation.distro import BaseDistro
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_DISTRO
from opentelemetry.sdk._configuration import _OTelSDKConfigurator


class AITracerDistro(BaseDistro):
    """Records are the default traces exporter; metrics and logs go nowhere unless configured.

    With ``opentelemetry-distro`` installed too, and ours not chosen by ``OTEL_PYTHON_DISTRO``,
    its defaults apply: an existing OpenTelemetry setup keeps exporting where it did.
    """

    def _configure(self, **kwargs: Any) -> None:
        if os.environ.get(OTEL_PYTHON_DISTRO) != "aitracer" and importlib.util.find_spec("opentelemetry.distro") is not None:
            from opentelemetry.distro import OpenTelemetryDistro

            OpenTelemetryDistro()._configure(**kwargs)
            return
        os.environ.setdefault(OTEL_TRACES_EXPORTER, "aitracer")
        os.environ.setdefault(OTEL_METRICS_EXPORTER, "none")
        os.environ.setdefault(OTEL_LOGS_EXPORTER, "none")


class AITracerConfigurator(_OTelSDKConfigurator):
    """The OpenTelemetry SDK's own configuration from ``OTEL_*`` variables."""
