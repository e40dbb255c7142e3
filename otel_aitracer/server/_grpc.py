"""OTLP/gRPC traces and logs (port 4317): what the Collector's loadbalancing exporter speaks.

The same ingest as OTLP/HTTP. Each uvicorn worker starts one gRPC server on the
same port (gRPC sets ``SO_REUSEPORT`` on Linux), so the kernel spreads
connections across workers as it does for HTTP.
"""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any, Callable

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from ._auth import Grant, Keys
from ._ingest import STORE_ERRORS, Forbidden, Ingest, Outcome
from ._logs import log_record_count, logs_response
from ._otlp import response_message, span_count

_logger = logging.getLogger(__name__)


class _Export:
    """One OTLP/gRPC ``Export``: auth, the item cap, then ``ingest(request, grant)``; errors as gRPC status codes,
    never the server's exception text."""

    def __init__(self, ingest: Callable[[Any, Grant], Outcome], count: Callable[[Any], int], answer: Callable[[int, str], Any],
                 keys: Keys, max_records: int) -> None:  # fmt: skip
        self._ingest, self._count, self._answer = ingest, count, answer
        self._keys, self._max_records = keys, max_records

    def __call__(self, request: Any, context: Any) -> Any:
        metadata = {key.lower(): value for key, value in context.invocation_metadata()}
        grant = self._keys.grant(metadata.get("authorization"))
        if grant is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid Bearer API key is required")
            raise AssertionError("unreachable: abort() raises")
        count = self._count(request)
        if count > self._max_records:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{count} items in one request; at most {self._max_records}")
        try:
            outcome = self._ingest(request, grant)
        except Forbidden as exc:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        except STORE_ERRORS:
            _logger.exception("the store could not take an OTLP/gRPC request")
            context.abort(grpc.StatusCode.UNAVAILABLE, "the store is unavailable; retry later")
        except Exception:  # noqa: BLE001 - gRPC would send the exception's text to the client; log it here instead
            _logger.exception("an OTLP/gRPC request failed")
            context.abort(grpc.StatusCode.INTERNAL, "internal error (logged by the server)")
        return self._answer(outcome.rejected, outcome.message())


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, export: _Export) -> None:
        self.Export = export  # type: ignore[method-assign]


class _LogsService(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, export: _Export) -> None:
        self.Export = export  # type: ignore[method-assign]


def start_grpc(ingest: Ingest, keys: Keys, host: str, port: int, max_message_bytes: int, max_records: int) -> grpc.Server:
    options = [("grpc.max_receive_message_length", max_message_bytes), ("grpc.so_reuseport", 1)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-grpc"), options=options)
    traces = _Export(ingest.otlp, span_count, response_message, keys, max_records)
    logs = _Export(ingest.logs, log_record_count, logs_response, keys, max_records)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(traces), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsService(logs), server)
    server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server
