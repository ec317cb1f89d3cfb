"""A cap on RPCs in flight: beyond it, new calls get RESOURCE_EXHAUSTED at once.

Done as an interceptor rather than grpc's `maximum_concurrent_rpcs`, whose count follows
thread-pool tasks and so misses streaming calls between messages. Health checks are exempt:
a busy server is still a live one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import grpc

from scenesearch.server.api.handlers import GuardInterceptor, behaviour_of, handler_like


class ConcurrencyLimiter(GuardInterceptor):
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

    def guard(
        self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        inner = behaviour_of(handler)
        if handler.response_streaming:

            def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                if not self._slots.acquire(blocking=False):
                    self._refuse(context)
                try:
                    yield from inner(request, context)
                finally:
                    self._slots.release()

            return handler_like(handler, streaming)

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            if not self._slots.acquire(blocking=False):
                self._refuse(context)
            try:
                return inner(request, context)
            finally:
                self._slots.release()

        return handler_like(handler, unary)
