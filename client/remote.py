"""Typed Python client for the scenesearch gRPC API. Every call has a deadline."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from scenesearch.client.results import (  # re-exported: the client's public types
    Classification,
    Clip,
    Hit,
    IngestUpdate,
    SceneInfo,
    SearchResults,
    ServerStats,
    Thumbnail,
    Timeline,
    VideoDetail,
    VideoInfo,
    VideoStream,
    classification_from_proto,
    fields_of,
    prompts_to_proto,
    timeline_from_proto,
    update_from_proto,
)
from scenesearch.contract import DEFAULT_ADDRESS, DEFAULT_TOP_K, MAX_MESSAGE_BYTES
from scenesearch.v1 import scenesearch_pb2 as pb
from scenesearch.v1 import scenesearch_pb2_grpc as pb_grpc

CHUNK_BYTES = 1024 * 1024
T = TypeVar("T")

__all__ = [
    "Classification",
    "ClientError",
    "Hit",
    "IngestUpdate",
    "SceneInfo",
    "SceneSearchClient",
    "SearchResults",
    "ServerStats",
    "Thumbnail",
    "Timeline",
    "VideoDetail",
    "VideoInfo",
    "VideoStream",
    "ingest_options",
]


class ClientError(Exception):
    """A failed call: the gRPC status code name and the server's message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def ingest_options(
    sample_interval_s: float = 0.0, detector: str = "", threshold: float = 0.0
) -> pb.IngestOptions:
    return pb.IngestOptions(
        sample_interval_s=sample_interval_s, detector=detector, threshold=threshold
    )


class SceneSearchClient:
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

    def __enter__(self) -> SceneSearchClient:
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

    # --- ingest -------------------------------------------------------------------------

    def ingest_path(
        self,
        path: str,
        options: pb.IngestOptions | None = None,
        on_progress: Callable[[IngestUpdate], None] | None = None,
    ) -> IngestUpdate:
        """Ingest a file by its path on the server (must be under a media root)."""
        request = pb.IngestVideoRequest(path=path, options=options)
        responses = self._stub.IngestVideo(
            request, timeout=self.ingest_timeout_s, metadata=self._metadata
        )
        return self._stream(responses, on_progress)

    def upload(
        self,
        path: Path,
        options: pb.IngestOptions | None = None,
        on_progress: Callable[[IngestUpdate], None] | None = None,
        on_sent: Callable[[int], None] | None = None,
    ) -> IngestUpdate:
        """Send a local file to the server and ingest it."""
        size = path.stat().st_size

        def chunks() -> Iterator[pb.UploadVideoRequest]:
            yield pb.UploadVideoRequest(
                header=pb.UploadHeader(filename=path.name, size_bytes=size, options=options)
            )
            sent = 0
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK_BYTES):
                    sent += len(chunk)
                    if on_sent is not None:
                        on_sent(sent)
                    yield pb.UploadVideoRequest(chunk=chunk)

        responses = self._stub.UploadVideo(
            chunks(), timeout=self.ingest_timeout_s, metadata=self._metadata
        )
        return self._stream(responses, on_progress)

    # --- search -------------------------------------------------------------------------

    def _search(
        self,
        request: pb.SearchRequest,
        top_k: int,
        video_ids: Sequence[int],
        min_score: float | None,
    ) -> SearchResults:
        request.top_k = top_k
        request.video_ids.extend(video_ids)
        if min_score is not None:
            request.min_score = min_score
        response = self._call(self._stub.Search, request)
        return SearchResults(
            [fields_of(h, Hit) for h in response.hits],
            response.index_kind,
            response.query_truncated,
        )

    def search_text(
        self,
        text: str,
        top_k: int = DEFAULT_TOP_K,
        video_ids: Sequence[int] = (),
        min_score: float | None = None,
    ) -> SearchResults:
        return self._search(pb.SearchRequest(text=text), top_k, video_ids, min_score)

    def search_image(
        self,
        image: bytes,
        top_k: int = DEFAULT_TOP_K,
        video_ids: Sequence[int] = (),
        min_score: float | None = None,
    ) -> SearchResults:
        return self._search(pb.SearchRequest(image=image), top_k, video_ids, min_score)

    def search_scene(
        self,
        scene_id: int,
        top_k: int = DEFAULT_TOP_K,
        video_ids: Sequence[int] = (),
        min_score: float | None = None,
        exclude_same_video: bool = False,
    ) -> SearchResults:
        request = pb.SearchRequest(scene_id=scene_id, exclude_same_video=exclude_same_video)
        return self._search(request, top_k, video_ids, min_score)

    # --- library ------------------------------------------------------------------------

    def list_videos(self) -> list[VideoInfo]:
        response = self._call(self._stub.ListVideos, pb.ListVideosRequest())
        return [fields_of(v, VideoInfo) for v in response.videos]

    def get_video(self, video_id: int) -> VideoDetail:
        response = self._call(self._stub.GetVideo, pb.GetVideoRequest(video_id=video_id))
        return VideoDetail(
            fields_of(response.video, VideoInfo), [fields_of(s, SceneInfo) for s in response.scenes]
        )

    def delete_video(self, video_id: int) -> int:
        request = pb.DeleteVideoRequest(video_id=video_id)
        return self._call(self._stub.DeleteVideo, request).scenes_removed

    def stats(self) -> ServerStats:
        return fields_of(self._call(self._stub.GetStats, pb.GetStatsRequest()), ServerStats)

    def rebuild_index(
        self, kind: str, params: Mapping[str, str] | None = None, timeout_s: float = 3600.0
    ) -> tuple[str, int, float]:
        request = pb.RebuildIndexRequest(kind=kind, params=dict(params or {}))
        response = self._call(self._stub.RebuildIndex, request, timeout_s)
        return response.index_kind, response.vectors, response.seconds

    # --- analytics ----------------------------------------------------------------------

    def _collect(self, responses: Iterator[Any], convert: Callable[[Any], T]) -> list[T]:
        try:
            return [convert(r) for r in responses]
        except grpc.RpcError as exc:
            raise ClientError(exc.code(), exc.details() or "") from None

    def classify(
        self,
        video_ids: Sequence[int] = (),
        prompts: Sequence[str] = (),
        prompt_images: Sequence[Path | bytes] = (),
        *,
        all_videos: bool = False,
        null_prompt: str = "",
        interval_s: float = 0.0,
        min_visible_s: float = 0.0,
        timeout_s: float | None = None,
    ) -> list[Classification]:
        """Label each interval of the videos with the best prompt; per-prompt summaries."""
        request = pb.ClassifyRequest(
            video_ids=video_ids,
            all_videos=all_videos,
            prompts=prompts_to_proto(prompts, prompt_images),
            null_prompt=null_prompt,
            interval_s=interval_s,
            min_visible_s=min_visible_s,
        )
        responses = self._stub.Classify(
            request, timeout=timeout_s or self.timeout_s * 10, metadata=self._metadata
        )
        return self._collect(responses, classification_from_proto)

    def timeline(
        self,
        video_ids: Sequence[int] = (),
        prompts: Sequence[str] = (),
        prompt_images: Sequence[Path | bytes] = (),
        *,
        all_videos: bool = False,
        smooth: int = 0,
        threshold: float | None = None,
        timeout_s: float | None = None,
    ) -> list[Timeline]:
        """Similarity of each prompt over time, with segments above `threshold` flagged."""
        request = pb.TimelineRequest(
            video_ids=video_ids,
            all_videos=all_videos,
            prompts=prompts_to_proto(prompts, prompt_images),
            smooth=smooth,
        )
        if threshold is not None:
            request.threshold = threshold
        responses = self._stub.Timeline(
            request, timeout=timeout_s or self.timeout_s * 10, metadata=self._metadata
        )
        return self._collect(responses, timeline_from_proto)

    # --- media ---------------------------------------------------------------------------

    def thumbnail(self, scene_id: int) -> Thumbnail:
        """The scene's JPEG thumbnail (about 320 px wide, upright)."""
        response = self._call(self._stub.GetThumbnail, pb.GetThumbnailRequest(scene_id=scene_id))
        return Thumbnail(response.jpeg, response.width, response.height, response.time_s)

    def read_video(self, video_id: int, offset: int = 0, length: int = 0) -> VideoStream:
        """Bytes [offset, offset + length) of the video's file (length 0: to the end).

        The first message is read before returning, so errors (NOT_FOUND, OUT_OF_RANGE)
        raise here and the size is known before any byte is used.
        """
        request = pb.ReadVideoRequest(video_id=video_id, offset=offset, length=length)
        responses = self._stub.ReadVideo(
            request, timeout=self.ingest_timeout_s, metadata=self._metadata
        )
        try:
            first = next(responses)
        except grpc.RpcError as exc:
            raise ClientError(exc.code(), exc.details() or "") from None
        except StopIteration:
            raise ClientError(grpc.StatusCode.UNKNOWN, "the video stream was empty") from None

        def chunks() -> Iterator[bytes]:
            if first.data:
                yield first.data
            try:
                for message in responses:
                    yield message.data
            except grpc.RpcError as exc:
                raise ClientError(exc.code(), exc.details() or "") from None
            finally:
                responses.cancel()

        return VideoStream(first.total_size, first.content_type, first.offset, chunks())

    def export_clip(
        self,
        scene_id: int | None = None,
        *,
        video_id: int | None = None,
        start_s: float = 0.0,
        end_s: float = 0.0,
        timeout_s: float | None = None,
    ) -> Clip:
        """An MP4 of a scene, or of [start_s, end_s) of a video."""
        if (scene_id is None) == (video_id is None):
            raise ValueError("give a scene_id or a video_id")
        request = (
            pb.ExportClipRequest(scene_id=scene_id)
            if scene_id is not None
            else pb.ExportClipRequest(video_id=video_id, start_s=start_s, end_s=end_s)
        )
        responses = self._stub.ExportClip(
            request, timeout=timeout_s or self.timeout_s * 10, metadata=self._metadata
        )
        parts = self._collect(responses, lambda m: m)
        if not parts:
            raise ClientError(grpc.StatusCode.UNKNOWN, "the clip stream was empty")
        head = parts[0]
        return Clip(
            head.filename,
            b"".join(m.data for m in parts),
            head.start_s,
            head.end_s,
            head.stream_copy,
        )

    @property
    def stub(self) -> pb_grpc.SceneSearchStub:
        return self._stub

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def import_video(
        self, messages: Iterable[pb.ImportVideoRequest], timeout_s: float | None = None
    ) -> ImportedVideo:
        """Commit a video decoded and embedded elsewhere: a header message, then chunks
        (see scenesearch.client.ray_ingest). Same content twice gives the existing video."""
        response = self._call(self._stub.ImportVideo, iter(messages), timeout_s)
        return ImportedVideo(
            response.video_id,
            response.already_ingested,
            response.scene_count,
            response.sample_count,
        )


@dataclass(frozen=True, slots=True)
class ImportedVideo:
    video_id: int
    already_ingested: bool
    scene_count: int
    sample_count: int
