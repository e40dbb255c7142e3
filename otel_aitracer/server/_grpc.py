"""OTLP/gRPC traces (port 4317): what the Collector's loadbalancing exporter speaks.

The same ingest as OTLP/HTTP. Each uvicorn worker starts one gRPC server on the
same port (gRPC sets ``SO_REUSEPORT`` on Linux), so the kernel spreads
connections across workers as it does for HTTP.
"""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ._auth import Keys
from ._ingest import STORE_ERRORS, Forbidden, Ingest
from ._otlp import response_message, span_count

_logger = logging.getLogger(__name__)


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, ingest: Ingest, keys: Keys, max_records: int) -> None:
        self._ingest = ingest
        self._keys = keys
        self._max_records = max_records

    def Export(self, request: ExportTraceServiceRequest, context: Any) -> ExportTraceServiceResponse:  # noqa: N802 - the gRPC method name
        metadata = {key.lower(): value for key, value in context.invocation_metadata()}
        grant = self._keys.grant(metadata.get("authorization"))
        if grant is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid Bearer API key is required")
            raise AssertionError("unreachable: abort() raises")
        count = span_count(request)
        if count > self._max_records:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{count} spans in one request; at most {self._max_records}")
        try:
            outcome = self._ingest.otlp(request, grant)
        except Forbidden as exc:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        except STORE_ERRORS:
            _logger.exception("the store could not take an OTLP/gRPC request")
            context.abort(grpc.StatusCode.UNAVAILABLE, "the store is unavailable; retry later")
        except Exception:  # noqa: BLE001 - gRPC would send the exception's text to the client; log it here instead
            _logger.exception("an OTLP/gRPC request failed")
            context.abort(grpc.StatusCode.INTERNAL, "internal error (logged by the server)")
        return response_message(outcome.rejected, outcome.message())


def start_grpc(ingest: Ingest, keys: Keys, host: str, port: int, max_message_bytes: int, max_records: int) -> grpc.Server:
    options = [("grpc.max_receive_message_length", max_message_bytes), ("grpc.so_reuseport", 1)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-grpc"), options=options)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(ingest, keys, max_records), server)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server
