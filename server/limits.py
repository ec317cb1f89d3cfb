"""A cap on RPCs in flight: beyond it, new calls get RESOURCE_EXHAUSTED at once.

Done as an interceptor rather than grpc's `maximum_concurrent_rpcs`, whose count follows
thread-pool tasks and so misses streaming calls between messages. Health checks are exempt:
a busy server is still a live one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from scenesearch.server.auth import OPEN_PREFIXES


class ConcurrencyLimiter(grpc.ServerInterceptor):
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the RPC limit must be at least 1")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    def _refuse(self, context: grpc.ServicerContext) -> None:
        context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"the server is busy ({self.limit} calls in flight); retry shortly",
        )

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PREFIXES):
            return handler
        if handler.response_streaming:
            inner = handler.unary_stream or handler.stream_stream

            def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                if not self._slots.acquire(blocking=False):
                    self._refuse(context)
                try:
                    yield from inner(request, context)
                finally:
                    self._slots.release()

            make = (
                grpc.stream_stream_rpc_method_handler
                if handler.request_streaming
                else grpc.unary_stream_rpc_method_handler
            )
            return make(streaming, handler.request_deserializer, handler.response_serializer)
        inner_unary = handler.unary_unary or handler.stream_unary

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            if not self._slots.acquire(blocking=False):
                self._refuse(context)
            try:
                return inner_unary(request, context)
            finally:
                self._slots.release()

        make_unary = (
            grpc.stream_unary_rpc_method_handler
            if handler.request_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        return make_unary(unary, handler.request_deserializer, handler.response_serializer)
