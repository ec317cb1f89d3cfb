"""What the server's interceptors share: the calls they guard, and rebuilding handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


def handler_like(
    handler: grpc.RpcMethodHandler, behaviour: Callable[..., Any]
) -> grpc.RpcMethodHandler:
    """A handler of the same shape and (de)serialisers as `handler`, running `behaviour`."""
    if handler.request_streaming and handler.response_streaming:
        make = grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        make = grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        make = grpc.unary_stream_rpc_method_handler
    else:
        make = grpc.unary_unary_rpc_method_handler
    return make(behaviour, handler.request_deserializer, handler.response_serializer)


def behaviour_of(handler: grpc.RpcMethodHandler) -> Callable[..., Any]:
    return (
        handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    )


# Health checks pass every guard: a load balancer must see a busy or locked server as alive.
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


class GuardInterceptor(grpc.ServerInterceptor):
    """An interceptor that wraps the handler of every call but the open ones (`guard`)."""

    def guard(
        self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        raise NotImplementedError

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PREFIXES):
            return handler
        return self.guard(handler, handler_call_details)
