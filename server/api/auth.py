"""Optional bearer-token authentication for every RPC except the health service."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import grpc

from scenesearch.server.api.handlers import handler_like

OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


def _deny(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that rejects the call."""

    def abort(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(
            grpc.StatusCode.UNAUTHENTICATED,
            "missing or wrong token: send 'authorization: Bearer <token>' "
            "(scenesearch --token, or SCENESEARCH_TOKEN)",
        )

    return handler_like(handler, abort)


class BearerTokenInterceptor(grpc.ServerInterceptor):
    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the auth token must not be empty")
        self._expected = f"Bearer {token}".encode()

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_PREFIXES):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = metadata.get("authorization", "")
        given_bytes = given.encode() if isinstance(given, str) else bytes(given)
        # Constant-time comparison: response timing must not reveal the token.
        if hmac.compare_digest(given_bytes, self._expected):
            return handler
        return _deny(handler)
