"""The Reembed RPCs (a mixin of the servicer, so service.py stays small) and their proto ⇄
domain conversion."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from scenesearch.server.api.status import grpc_errors
from scenesearch.server.errors import FailedPrecondition
from scenesearch.server.reembed.manager import Reembedder
from scenesearch.server.reembed.parts import Bulletin
from scenesearch.server.reembed.state import Missing, MoveState, MoveStatus, VideoEntry
from scenesearch.v1 import scenesearch_pb2 as pb

MISSING_TO_PROTO = {Missing.KEEP: pb.MISSING_SOURCE_KEEP, Missing.DROP: pb.MISSING_SOURCE_DROP}
STATE_TO_PROTO = {
    MoveState.BUILDING: pb.REEMBED_STATE_BUILDING,
    MoveState.DONE: pb.REEMBED_STATE_DONE,
    MoveState.CANCELLED: pb.REEMBED_STATE_CANCELLED,
    MoveState.FAILED: pb.REEMBED_STATE_FAILED,
}


def missing_from_proto(value: int) -> Missing:
    """Unspecified means keep: nothing is dropped unless the caller asks."""
    return Missing.DROP if value == pb.MISSING_SOURCE_DROP else Missing.KEEP


def entry_to_proto(entry: VideoEntry) -> pb.ReembedVideo:
    return pb.ReembedVideo(
        video_id=entry.video_id, path=entry.path, state=entry.state.value, reason=entry.reason
    )


def status_to_proto(status: MoveStatus | None) -> pb.ReembedProgress:
    if status is None:
        return pb.ReembedProgress(message="this library has never been re-embedded")
    info = status.info
    message = pb.ReembedProgress(
        state=STATE_TO_PROTO[info.state],
        source_model=info.source_model,
        target_model=info.target_model,
        source_generation=info.source_generation,
        target_generation=info.target_generation,
        missing=MISSING_TO_PROTO[info.missing],
        videos_total=status.total,
        videos_done=status.done,
        unavailable=[entry_to_proto(e) for e in status.unavailable],
        message=info.message,
        concepts_retrained=list(status.concepts_retrained),
        concepts_stale=[f"{name}: {reason}" for name, reason in status.concepts_stale],
    )
    if status.current is not None:
        message.current.CopyFrom(entry_to_proto(status.current))
    return message


def follow(bulletin: Bulletin, context: grpc.ServicerContext) -> Iterator[pb.ReembedProgress]:
    """Stream a move's updates until it ends; a client that leaves does not stop it."""
    for status in bulletin.updates():
        if not context.is_active():
            return
        yield status_to_proto(status)


class ReembedRpcs:
    """Reembed, GetReembed, WatchReembed, CancelReembed over the server's Reembedder."""

    _reembedder: Reembedder | None

    def _mover(self) -> Reembedder:
        if self._reembedder is None:
            raise FailedPrecondition("this server cannot re-embed its library")
        return self._reembedder

    @grpc_errors
    def Reembed(
        self, request: pb.ReembedRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ReembedProgress]:
        move = self._mover().start(request.model, missing_from_proto(request.missing))
        yield from follow(move.bulletin, context)

    @grpc_errors
    def GetReembed(
        self, request: pb.GetReembedRequest, context: grpc.ServicerContext
    ) -> pb.ReembedProgress:
        return status_to_proto(self._mover().status())

    @grpc_errors
    def WatchReembed(
        self, request: pb.GetReembedRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ReembedProgress]:
        move = self._mover().move
        if move is None:
            yield status_to_proto(self._mover().status())
            return
        yield from follow(move.bulletin, context)

    @grpc_errors
    def CancelReembed(
        self, request: pb.CancelReembedRequest, context: grpc.ServicerContext
    ) -> pb.ReembedProgress:
        return status_to_proto(self._mover().cancel())
