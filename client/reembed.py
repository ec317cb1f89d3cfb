"""Moving the library to another model, in the typed client: start a move and follow it,
read its status, follow one already running, cancel it. A mixin of SceneSearchClient, kept
apart so remote.py stays small."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc

from scenesearch.client.channel import Channel, ClientError
from scenesearch.v1 import scenesearch_pb2 as pb

MISSING_CHOICES = {"keep": pb.MISSING_SOURCE_KEEP, "drop": pb.MISSING_SOURCE_DROP}
STATES = {
    pb.REEMBED_STATE_UNSPECIFIED: "none",
    pb.REEMBED_STATE_BUILDING: "building",
    pb.REEMBED_STATE_DONE: "done",
    pb.REEMBED_STATE_CANCELLED: "cancelled",
    pb.REEMBED_STATE_FAILED: "failed",
}
MISSING_NAMES = {v: k for k, v in MISSING_CHOICES.items()} | {pb.MISSING_SOURCE_UNSPECIFIED: ""}


@dataclass(frozen=True, slots=True)
class ReembedVideo:
    video_id: int
    path: str
    state: str  # pending, done, kept or dropped
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ReembedStatus:
    state: str  # none, building, done, cancelled or failed
    source_model: str = ""
    target_model: str = ""
    source_generation: str = ""
    target_generation: str = ""
    missing: str = ""  # keep or drop
    videos_total: int = 0
    videos_done: int = 0
    unavailable: list[ReembedVideo] = field(default_factory=list)
    current: ReembedVideo | None = None
    message: str = ""
    concepts_retrained: list[str] = field(default_factory=list)
    concepts_stale: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state != "building"

    @classmethod
    def from_proto(cls, m: pb.ReembedProgress) -> ReembedStatus:
        def video(v: pb.ReembedVideo) -> ReembedVideo:
            return ReembedVideo(v.video_id, v.path, v.state, v.reason)

        return cls(
            state=STATES.get(m.state, "none"),
            source_model=m.source_model,
            target_model=m.target_model,
            source_generation=m.source_generation,
            target_generation=m.target_generation,
            missing=MISSING_NAMES.get(m.missing, ""),
            videos_total=m.videos_total,
            videos_done=m.videos_done,
            unavailable=[video(v) for v in m.unavailable],
            current=video(m.current) if m.HasField("current") else None,
            message=m.message,
            concepts_retrained=list(m.concepts_retrained),
            concepts_stale=list(m.concepts_stale),
        )


class ReembedCalls(Channel):
    def reembed(
        self,
        model: str,
        missing: str = "keep",
        on_progress: Callable[[ReembedStatus], None] | None = None,
        follow: bool = True,
    ) -> ReembedStatus:
        """Start moving the library to `model`; with `follow`, wait until the move ends
        (the last status), else return the first status while it runs on."""
        if missing not in MISSING_CHOICES:
            raise ValueError(f"missing must be one of {sorted(MISSING_CHOICES)}, not {missing!r}")
        request = pb.ReembedRequest(model=model, missing=MISSING_CHOICES[missing])
        stream = self._stub.Reembed(request, timeout=self.ingest_timeout_s, metadata=self._metadata)
        return self._follow_move(stream, on_progress, follow)

    def reembed_status(self) -> ReembedStatus:
        return ReembedStatus.from_proto(self._call(self._stub.GetReembed, pb.GetReembedRequest()))

    def watch_reembed(
        self, on_progress: Callable[[ReembedStatus], None] | None = None
    ) -> ReembedStatus:
        """Follow the move in progress until it ends; the last status."""
        stream = self._stub.WatchReembed(
            pb.GetReembedRequest(), timeout=self.ingest_timeout_s, metadata=self._metadata
        )
        return self._follow_move(stream, on_progress, True)

    def cancel_reembed(self) -> ReembedStatus:
        return ReembedStatus.from_proto(
            self._call(self._stub.CancelReembed, pb.CancelReembedRequest())
        )

    @staticmethod
    def _follow_move(
        stream: Iterator[pb.ReembedProgress],
        on_progress: Callable[[ReembedStatus], None] | None,
        follow: bool,
    ) -> ReembedStatus:
        last: ReembedStatus | None = None
        try:
            for message in stream:
                last = ReembedStatus.from_proto(message)
                if on_progress is not None:
                    on_progress(last)
                if not follow:
                    stream.cancel()  # type: ignore[attr-defined]
                    break
        except grpc.RpcError as exc:
            raise ClientError(exc.code(), exc.details() or "") from None
        if last is None:
            raise ClientError(grpc.StatusCode.UNKNOWN, "the re-embed stream ended early")
        return last
