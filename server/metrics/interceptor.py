"""Per-RPC latency and status codes, as a server interceptor around every handler.

Installed first, so it is the outermost wrapper: calls that auth or the concurrency limit refuse
are counted with their codes too. Streaming responses are timed to their last message. Methods
with no handler (UNIMPLEMENTED) are not counted: their names come from clients, and labels must
stay a small fixed set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from scenesearch.server.api.handlers import behaviour_of, handler_like
from scenesearch.server.metrics.prometheus import PrometheusMetrics


def rpc_type(handler: grpc.RpcMethodHandler) -> str:
    """The go-grpc-prometheus name of the handler's shape."""
    if handler.request_streaming:
        return "bidi_stream" if handler.response_streaming else "client_stream"
    return "server_stream" if handler.response_streaming else "unary"


def status_of(context: grpc.ServicerContext, raised: bool) -> str:
    """The code the client will see: the one set or aborted with; else OK, or UNKNOWN (what
    grpc answers for an exception that set none)."""
    code = context.code()  # grpcio >= 1.38
    if isinstance(code, grpc.StatusCode):
        return code.name
    return "UNKNOWN" if raised else "OK"


class RpcMetricsInterceptor(grpc.ServerInterceptor):
    def __init__(self, metrics: PrometheusMetrics) -> None:
        self._metrics = metrics

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        service, _, method = handler_call_details.method.lstrip("/").rpartition("/")
        kind = rpc_type(handler)
        inner = behaviour_of(handler)
        record = self._metrics.rpc

        def done(context: grpc.ServicerContext, started: float, raised: bool, code: str) -> None:
            code = code or status_of(context, raised)
            record(service, method, kind, code, time.perf_counter() - started)

        if handler.response_streaming:

            def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                started, raised, code = time.perf_counter(), True, ""
                try:
                    yield from inner(request, context)
                    raised = False
                except GeneratorExit:  # the client went away mid-stream
                    code = "CANCELLED"
                    raise
                finally:
                    done(context, started, raised, code)

            return handler_like(handler, streaming)

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            started, raised = time.perf_counter(), True
            try:
                response = inner(request, context)
                raised = False
                return response
            finally:
                done(context, started, raised, "")

        return handler_like(handler, unary)
