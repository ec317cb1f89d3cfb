"""One typed client per token, and the one table that turns gRPC failures into HTTP.

The web tier talks to the server only through `SceneSearchClient`; every handler goes
through `Gateway.call`, so a failure anywhere becomes a `WebError` with a status and a
message a person can act on, never a stack trace.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from starlette.concurrency import run_in_threadpool

from scenesearch.client.remote import ClientError, SceneSearchClient

T = TypeVar("T")

# gRPC code -> (HTTP status, what the person should know). The server's own message follows.
STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "The request was refused"),
    grpc.StatusCode.NOT_FOUND: (404, "Not found"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "Not allowed"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "The server needs a token"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "Not possible yet"),
    grpc.StatusCode.OUT_OF_RANGE: (416, "Out of range"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "The server is busy or the request is too big"),
    grpc.StatusCode.ABORTED: (422, "The server could not process this video"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "The server took too long to answer"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "The server is older than this web UI"),
}


class WebError(Exception):
    """A failure to show to the person: HTTP status, a title and a message (no trace)."""

    def __init__(self, status: int, title: str, message: str = "", code: str = "") -> None:
        super().__init__(f"{status} {title}: {message}")
        self.status = status
        self.title = title
        self.message = message
        self.code = code


def web_error(exc: ClientError, address: str) -> WebError:
    if exc.code == grpc.StatusCode.UNAVAILABLE:
        return WebError(
            503,
            "The scenesearch server cannot be reached",
            f"Nothing answers at {address}. Start it with `scenesearch serve` (or `make serve`)"
            f" and reload this page. ({exc.message})",
            exc.code.name,
        )
    status, title = STATUS.get(exc.code, (502, "The server failed"))
    return WebError(status, title, exc.message, exc.code.name)


@dataclass(frozen=True, slots=True)
class ServerTarget:
    address: str
    timeout_s: float = 30.0
    token: str | None = None  # the operator's token: used when the browser brings none
    root_certificates: bytes | None = None


class Gateway:
    """Clients by token. gRPC channels are thread-safe and cheap to keep, so one per token
    (a few at most: one per person logged in) is reused across requests."""

    MAX_CLIENTS = 16

    def __init__(self, target: ServerTarget) -> None:
        self.target = target
        self._clients: OrderedDict[str | None, SceneSearchClient] = OrderedDict()
        self._lock = threading.Lock()

    def client(self, token: str | None) -> SceneSearchClient:
        token = token or self.target.token
        with self._lock:
            if token in self._clients:
                self._clients.move_to_end(token)
                return self._clients[token]
            client = SceneSearchClient(
                self.target.address,
                timeout_s=self.target.timeout_s,
                token=token,
                root_certificates=self.target.root_certificates,
            )
            self._clients[token] = client
            if len(self._clients) > self.MAX_CLIENTS:
                _, oldest = self._clients.popitem(last=False)
                oldest.close()
            return client

    def run(self, token: str | None, fn: Callable[[SceneSearchClient], T]) -> T:
        """Call `fn(client)` here (a worker thread), with gRPC failures as `WebError`."""
        try:
            return fn(self.client(token))
        except ClientError as exc:
            raise web_error(exc, self.target.address) from None

    async def call(self, token: str | None, fn: Callable[[SceneSearchClient], T]) -> T:
        """`run` off the event loop: the client blocks, the loop must not."""
        return await run_in_threadpool(self.run, token, fn)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
