"""Per-RPC latency and status codes, as a server interceptor around every handler.

Installed first, so it is the outermost wrapper: calls that auth or the concurrency limit refuse
are counted with their codes too. Streaming responses are timed to their last message. A call
the client abandons (cancel, deadline) is recorded by grpc's termination callback, since its
handler may never run to an end (a stream generator is just left suspended). Methods
with no handler (UNIMPLEMENTED) are not counted: their names come from clients, and labels must
stay a small fixed set.
"""

from __future__ import annotations

import threading
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


class _Call:
    """One RPC's record, written once: by its handler when it ends, or by grpc's termination
    callback when the client went away first."""

    __slots__ = ("_lock", "_record", "context", "recorded", "started")

    def __init__(self, context: grpc.ServicerContext, record: Callable[[str, float], None]):
        self.context, self._record = context, record
        self.started, self.recorded = time.perf_counter(), False
        self._lock = threading.Lock()
        context.add_callback(self.terminated)

    def end(self, code: str) -> None:
        with self._lock:
            if self.recorded:
                return
            self.recorded = True
        self._record(code, time.perf_counter() - self.started)

    def terminated(self) -> None:
        if not self.recorded:  # the handler is still running: the client left
            expired = self.context.time_remaining() <= 0
            self.end("DEADLINE_EXCEEDED" if expired else "CANCELLED")


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
        rpc = self._metrics.rpc

        def record(code: str, seconds: float) -> None:
            rpc(service, method, kind, code, seconds)

        if handler.response_streaming:

            def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                call, raised = _Call(context, record), True
                try:
                    yield from inner(request, context)
                    raised = False
                except GeneratorExit:  # closed by grpc after the client left
                    call.end("CANCELLED")
                    raise
                finally:
                    call.end(status_of(context, raised))

            return handler_like(handler, streaming)

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            call, raised = _Call(context, record), True
            try:
                response = inner(request, context)
                raised = False
                return response
            finally:
                call.end(status_of(context, raised))

        return handler_like(handler, unary)
