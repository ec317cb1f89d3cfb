"""Typed Python client for the scenesearch gRPC API. Every call has a deadline."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from scenesearch.client.channel import Channel, ClientError
from scenesearch.client.concepts import ConceptCalls
from scenesearch.client.reembed import ReembedCalls, ReembedStatus, ReembedVideo
from scenesearch.client.results import (  # re-exported: the client's public types
    Classification,
    Clip,
    Hit,
    IngestUpdate,
    QueryTerm,
    SceneInfo,
    SearchFilters,
    SearchResults,
    ServerStats,
    TemporalResults,
    TemporalStep,
    Thumbnail,
    Timeline,
    VideoDetail,
    VideoInfo,
    VideoStream,
    classification_from_proto,
    fields_of,
    hit_from_proto,
    prompts_to_proto,
    temporal_from_proto,
    timeline_from_proto,
)
from scenesearch.client.temporal import temporal_request
from scenesearch.contract import DEFAULT_TOP_K
from scenesearch.v1 import scenesearch_pb2 as pb

CHUNK_BYTES = 1024 * 1024
T = TypeVar("T")

__all__ = [
    "Classification",
    "ClientError",
    "Hit",
    "IngestUpdate",
    "QueryTerm",
    "ReembedStatus",
    "ReembedVideo",
    "SceneInfo",
    "SceneSearchClient",
    "SearchFilters",
    "SearchResults",
    "ServerStats",
    "Thumbnail",
    "Timeline",
    "VideoDetail",
    "VideoInfo",
    "VideoStream",
    "ingest_options",
]


def ingest_options(
    sample_interval_s: float = 0.0, detector: str = "", threshold: float = 0.0
) -> pb.IngestOptions:
    return pb.IngestOptions(
        sample_interval_s=sample_interval_s, detector=detector, threshold=threshold
    )


class SceneSearchClient(ConceptCalls, ReembedCalls, Channel):
    """Every RPC of the API, returning the plain dataclasses of `results`."""

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
        filters: SearchFilters | None,
    ) -> SearchResults:
        request.top_k = top_k
        request.video_ids.extend(video_ids)
        if min_score is not None:
            request.min_score = min_score
        if filters is not None:
            filters.apply(request)
        response = self._call(self._stub.Search, request)
        return SearchResults(
            [hit_from_proto(h) for h in response.hits],
            response.index_kind,
            response.query_truncated,
            response.model,
            response.generation,
        )

    def search_text(
        self,
        text: str,
        top_k: int = DEFAULT_TOP_K,
        video_ids: Sequence[int] = (),
        min_score: float | None = None,
        *,
        filters: SearchFilters | None = None,
    ) -> SearchResults:
        request = pb.SearchRequest(text=text)
        return self._search(request, top_k, video_ids, min_score, filters)

    def search_image(
        self,
        image: bytes,
        top_k: int = DEFAULT_TOP_K,
        video_ids: Sequence[int] = (),
        min_score: float | None = None,
        *,
        filters: SearchFilters | None = None,
    ) -> SearchResults:
        request = pb.SearchRequest(image=image)
        return self._search(request, top_k, video_ids, min_score, filters)

    def search_scene(
        self,
        scene_id: int,
        top_k: int = DEFAULT_TOP_K,
        video_ids: Sequence[int] = (),
        min_score: float | None = None,
        exclude_same_video: bool = False,
        *,
        filters: SearchFilters | None = None,
    ) -> SearchResults:
        request = pb.SearchRequest(scene_id=scene_id, exclude_same_video=exclude_same_video)
        return self._search(request, top_k, video_ids, min_score, filters)

    def search_terms(
        self,
        terms: Sequence[QueryTerm],
        top_k: int = DEFAULT_TOP_K,
        video_ids: Sequence[int] = (),
        min_score: float | None = None,
        exclude_same_video: bool = False,
        *,
        filters: SearchFilters | None = None,
    ) -> SearchResults:
        """A composite query: weighted texts, images and scenes; negative weights push
        results away. Each hit's `term_scores` has its cosine to every term, in order."""
        request = pb.SearchRequest(
            terms=[t.to_proto() for t in terms], exclude_same_video=exclude_same_video
        )
        return self._search(request, top_k, video_ids, min_score, filters)

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
        prompt_concepts: Sequence[str] = (),
    ) -> list[Classification]:
        """Label each interval of the videos with the best prompt; per-prompt summaries."""
        request = pb.ClassifyRequest(
            video_ids=video_ids,
            all_videos=all_videos,
            prompts=prompts_to_proto(prompts, prompt_images, prompt_concepts),
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
        prompt_concepts: Sequence[str] = (),
    ) -> list[Timeline]:
        """Similarity of each prompt over time, with segments above `threshold` flagged."""
        request = pb.TimelineRequest(
            video_ids=video_ids,
            all_videos=all_videos,
            prompts=prompts_to_proto(prompts, prompt_images, prompt_concepts),
            smooth=smooth,
        )
        if threshold is not None:
            request.threshold = threshold
        responses = self._stub.Timeline(
            request, timeout=timeout_s or self.timeout_s * 10, metadata=self._metadata
        )
        return self._collect(responses, timeline_from_proto)

    def temporal_search(
        self,
        steps: Sequence[TemporalStep],
        max_gap_s: float | None = None,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> TemporalResults:
        """Spans where the positive steps occur in order, each at most `max_gap_s` after the
        previous one, with no negated step inside; options: smooth, top_k, video_ids,
        shortlist_scenes, exhaustive (see `client/temporal.py`)."""
        request = temporal_request(steps, max_gap_s, **options)
        response = self._call(self._stub.TemporalSearch, request, timeout_s or self.timeout_s * 10)
        return temporal_from_proto(response)

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
