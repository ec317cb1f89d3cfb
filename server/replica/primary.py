"""The replica's view of its primary: the few read RPCs the catalog mirror copies from."""

from __future__ import annotations

import grpc

from scenesearch.contract import MAX_MESSAGE_BYTES
from scenesearch.v1 import scenesearch_pb2 as pb
from scenesearch.v1 import scenesearch_pb2_grpc as pb_grpc

# Every call to the primary has a deadline: a hung primary must not hang the sync thread.
CALL_TIMEOUT_S = 60.0


class Primary:
    def __init__(self, address: str, token: str = "") -> None:
        self.address = address
        self._channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self._stub = pb_grpc.SceneSearchStub(self._channel)
        # The fleet shares one --auth-token: the replica sends its own to the primary.
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def stats(self) -> pb.GetStatsResponse:
        return self._stub.GetStats(
            pb.GetStatsRequest(), timeout=CALL_TIMEOUT_S, metadata=self._metadata
        )

    def videos(self) -> list[pb.Video]:
        response = self._stub.ListVideos(
            pb.ListVideosRequest(), timeout=CALL_TIMEOUT_S, metadata=self._metadata
        )
        return list(response.videos)

    def video(self, video_id: int) -> pb.GetVideoResponse | None:
        """A video with its scenes; None when the primary deleted it meanwhile."""
        try:
            return self._stub.GetVideo(
                pb.GetVideoRequest(video_id=video_id),
                timeout=CALL_TIMEOUT_S,
                metadata=self._metadata,
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def concepts(self) -> list[pb.ConceptInfo]:
        response = self._stub.ListConcepts(
            pb.ListConceptsRequest(), timeout=CALL_TIMEOUT_S, metadata=self._metadata
        )
        return list(response.concepts)

    def concept(self, name: str) -> pb.GetConceptResponse | None:
        try:
            return self._stub.GetConcept(
                pb.GetConceptRequest(name=name), timeout=CALL_TIMEOUT_S, metadata=self._metadata
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def thumbnail(self, scene_id: int) -> pb.GetThumbnailResponse:
        return self._stub.GetThumbnail(
            pb.GetThumbnailRequest(scene_id=scene_id),
            timeout=CALL_TIMEOUT_S,
            metadata=self._metadata,
        )

    def close(self) -> None:
        self._channel.close()
