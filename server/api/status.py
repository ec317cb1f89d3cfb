"""The one table from domain outcomes to gRPC status codes, and the decorator that applies it.

Two kinds of outcome reach the edge: a domain error raised while serving a call, and the
FailureKind of an ingest job that failed in the worker. Both are mapped here and nowhere else.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from scenesearch.server.errors import (
    FailedPrecondition,
    InvalidArgument,
    ModelLoadError,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    SceneSearchError,
)
from scenesearch.server.ingest.protocol import FailureKind

STATUS: dict[type[SceneSearchError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    ModelLoadError: grpc.StatusCode.UNAVAILABLE,
}
FAILURE_STATUS: dict[FailureKind, grpc.StatusCode] = {
    FailureKind.BAD_MEDIA: grpc.StatusCode.INVALID_ARGUMENT,
    FailureKind.CRASHED: grpc.StatusCode.ABORTED,
    FailureKind.STALLED: grpc.StatusCode.DEADLINE_EXCEEDED,
    FailureKind.INTERNAL: grpc.StatusCode.INTERNAL,
}

F = TypeVar("F", bound=Callable[..., Any])


def status_of(exc: SceneSearchError) -> grpc.StatusCode:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return grpc.StatusCode.INTERNAL


def grpc_errors(method: F) -> F:
    """Abort with the domain error's status. Anything else propagates: grpc reports it as
    UNKNOWN and logs it, and the server stays up."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def stream(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            try:
                yield from method(self, request, context)
            except SceneSearchError as exc:
                context.abort(status_of(exc), str(exc))

        return stream  # type: ignore[return-value]

    @functools.wraps(method)
    def unary(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except SceneSearchError as exc:
            context.abort(status_of(exc), str(exc))

    return unary  # type: ignore[return-value]
