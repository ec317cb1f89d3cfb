"""The connection under the typed client: channel, deadlines, token, and error mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from scenesearch.client.results import IngestUpdate, update_from_proto
from scenesearch.contract import DEFAULT_ADDRESS, MAX_MESSAGE_BYTES
from scenesearch.v1 import scenesearch_pb2 as pb
from scenesearch.v1 import scenesearch_pb2_grpc as pb_grpc

T = TypeVar("T")
Self = TypeVar("Self", bound="Channel")


class ClientError(Exception):
    """A failed call: the gRPC status code name and the server's message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class Channel:
    """A channel to one server; every call has a deadline and carries the token."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        timeout_s: float = 30.0,
        ingest_timeout_s: float = 6 * 3600.0,
        token: str | None = None,
        root_certificates: bytes | None = None,
    ) -> None:
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
        if root_certificates is not None:
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(address, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = pb_grpc.SceneSearchStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout_s = timeout_s
        self.ingest_timeout_s = ingest_timeout_s

    def close(self) -> None:
        self._channel.close()

    def __enter__(self: Self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable[..., T], request: Any, timeout_s: float | None = None) -> T:
        try:
            return method(request, timeout=timeout_s or self.timeout_s, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise ClientError(exc.code(), exc.details() or "") from None

    def _stream(
        self,
        responses: Iterator[pb.IngestProgress],
        on_progress: Callable[[IngestUpdate], None] | None,
    ) -> IngestUpdate:
        last: IngestUpdate | None = None
        try:
            for message in responses:
                last = update_from_proto(message)
                if on_progress is not None:
                    on_progress(last)
        except grpc.RpcError as exc:
            raise ClientError(exc.code(), exc.details() or "") from None
        if last is None or last.stage != "done":
            raise ClientError(grpc.StatusCode.UNKNOWN, "the ingest stream ended early")
        return last

    def _collect(self, responses: Iterator[Any], convert: Callable[[Any], T]) -> list[T]:
        try:
            return [convert(r) for r in responses]
        except grpc.RpcError as exc:
            raise ClientError(exc.code(), exc.details() or "") from None

    @property
    def stub(self) -> pb_grpc.SceneSearchStub:
        return self._stub

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata
