"""Optional bearer-token authentication for every RPC except the health service."""

from __future__ import annotations

import hmac
from typing import Any

import grpc

from scenesearch.server.api.handlers import GuardInterceptor, handler_like


def _deny(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that rejects the call."""

    def abort(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(
            grpc.StatusCode.UNAUTHENTICATED,
            "missing or wrong token: send 'authorization: Bearer <token>' "
            "(scenesearch --token, or SCENESEARCH_TOKEN)",
        )

    return handler_like(handler, abort)


class BearerTokenInterceptor(GuardInterceptor):
    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the auth token must not be empty")
        self._expected = f"Bearer {token}".encode()

    def guard(
        self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        metadata = dict(details.invocation_metadata or ())
        given = metadata.get("authorization", "")
        given_bytes = given.encode() if isinstance(given, str) else bytes(given)
        # Constant-time comparison: response timing must not reveal the token.
        if hmac.compare_digest(given_bytes, self._expected):
            return handler
        return _deny(handler)
