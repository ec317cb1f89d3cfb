"""The gRPC servicer: thin. Converts proto ⇄ domain and maps domain errors to status codes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from scenesearch.contract import INDEX_KINDS, check_choice
from scenesearch.server.api import convert, imports, reembed
from scenesearch.server.api.status import FAILURE_STATUS, grpc_errors
from scenesearch.server.domain import IngestParams, Stats, Video
from scenesearch.server.errors import FailedPrecondition, InvalidArgument, NotFound
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.ingest.importer import VideoImporter
from scenesearch.server.ingest.jobs import Job, JobRunner
from scenesearch.server.ingest.media import UploadSink, resolve_media_path
from scenesearch.server.playback.clips import export_clip
from scenesearch.server.playback.thumbnails import Thumbnails
from scenesearch.server.query.analytics import AnalyticsEngine
from scenesearch.server.query.concepts import ConceptBook
from scenesearch.server.query.search import SearchEngine
from scenesearch.server.query.temporal import TemporalEngine
from scenesearch.server.reembed.active import ActiveGeneration
from scenesearch.server.reembed.manager import Reembedder
from scenesearch.server.storage.catalog import Catalog
from scenesearch.server.storage.store import Store
from scenesearch.server.storage.video_files import UPLOAD_PREFIX, VideoFiles, byte_range
from scenesearch.v1 import scenesearch_pb2 as pb
from scenesearch.v1 import scenesearch_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

# Video bytes per streamed message: well under the message size limit.
MEDIA_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServiceDeps:
    store: Store
    index: LiveIndex
    catalog: Catalog
    jobs: JobRunner
    engine: SearchEngine
    ingest_defaults: IngestParams
    media_roots: tuple[Path, ...]
    upload_dir: Path
    max_upload_bytes: int
    analytics: AnalyticsEngine
    model: str
    device: str
    files: VideoFiles
    thumbnails: Thumbnails
    importer: VideoImporter | None = None
    temporal: TemporalEngine | None = None
    concepts: ConceptBook | None = None
    # Which generation of the library these parts serve ("0": the data dir's root).
    generation: str = "0"


class SceneSearchService(reembed.ReembedRpcs, pb_grpc.SceneSearchServicer):
    def __init__(
        self,
        deps: ServiceDeps | ActiveGeneration[ServiceDeps],
        reembedder: Reembedder | None = None,
    ) -> None:
        self._active = deps if isinstance(deps, ActiveGeneration) else ActiveGeneration(deps)
        self._reembedder = reembedder

    @property
    def _d(self) -> ServiceDeps:
        """The active generation's parts; a swap to a new model replaces them at once."""
        return self._active.deps

    @grpc_errors
    def IngestVideo(
        self, request: pb.IngestVideoRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.IngestProgress]:
        params = convert.ingest_params(request.options, self._d.ingest_defaults)
        path = resolve_media_path(request.path, self._d.media_roots)
        with self._active.writing() as d:  # a swap waits until the job is queued, then drains
            job = d.jobs.submit(path, str(path), params)
        yield from self._follow(job, context)

    @grpc_errors
    def UploadVideo(
        self, request_iterator: Iterator[pb.UploadVideoRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.IngestProgress]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("payload") != "header":
            raise InvalidArgument("the first upload message must be a header with the file name")
        header = first.header
        params = convert.ingest_params(header.options, self._d.ingest_defaults)
        sink = UploadSink(self._d.upload_dir, self._d.max_upload_bytes, header.filename)
        try:
            sink.check_declared(header.size_bytes)
            for message in request_iterator:
                if message.WhichOneof("payload") != "chunk":
                    raise InvalidArgument("only chunks may follow the upload header")
                sink.write(message.chunk)
            if not context.is_active():  # the client went away: what arrived is not a file
                raise InvalidArgument("the upload was cancelled before it finished")
            if header.size_bytes and sink.received != header.size_bytes:
                raise InvalidArgument(
                    f"upload incomplete: received {sink.received} of {header.size_bytes} "
                    "bytes; send the whole file"
                )
            if sink.received == 0:
                raise InvalidArgument(f"{header.filename or 'the upload'} is empty (0 bytes)")
            path = sink.close()
        except BaseException:
            # Covers a client that vanishes mid-stream (grpc raises into the iterator).
            sink.discard()
            raise
        name = Path(header.filename).name or path.name
        with self._active.writing() as d:
            job = d.jobs.submit(
                path,
                f"{UPLOAD_PREFIX}{name}",
                params,
                cleanup=lambda: path.unlink(missing_ok=True),
                keep=lambda digest: d.files.keep_upload(path, digest),
            )
        yield from self._follow(job, context)

    def _follow(self, job: Job, context: grpc.ServicerContext) -> Iterator[pb.IngestProgress]:
        for progress in job.updates():
            if not context.is_active():
                return  # the client left; the job goes on and its result is kept
            if job.done and job.failure is not None:
                context.abort(FAILURE_STATUS[job.failure], progress.message)
            yield convert.progress_to_proto(progress)

    @grpc_errors
    def Search(self, request: pb.SearchRequest, context: grpc.ServicerContext) -> pb.SearchResponse:
        d = self._d  # one generation answers the whole call
        query, options = convert.query_from_proto(request), convert.search_options(request)
        if request.generation and request.generation != d.generation:  # kept on an old model
            result, model = self._mover().search_retained(request.generation, query, options)
            response = convert.search_result_to_proto(result)
            response.model, response.generation = model, request.generation
            return response
        response = convert.search_result_to_proto(d.engine.search(query, options))
        response.model, response.generation = d.model, d.generation
        return response

    @grpc_errors
    def ListVideos(
        self, request: pb.ListVideosRequest, context: grpc.ServicerContext
    ) -> pb.ListVideosResponse:
        files = self._d.files
        return pb.ListVideosResponse(
            videos=[convert.video_to_proto(v, files.size(v)) for v in self._d.store.list_videos()]
        )

    @grpc_errors
    def GetVideo(
        self, request: pb.GetVideoRequest, context: grpc.ServicerContext
    ) -> pb.GetVideoResponse:
        video = self._d.store.get_video(request.video_id)
        scenes = self._d.store.scenes_of_video(video.id)
        return pb.GetVideoResponse(
            video=convert.video_to_proto(video, self._d.files.size(video)),
            scenes=[convert.scene_to_proto(s) for s in scenes],
        )

    @grpc_errors
    def DeleteVideo(
        self, request: pb.DeleteVideoRequest, context: grpc.ServicerContext
    ) -> pb.DeleteVideoResponse:
        with self._active.writing() as d:
            video = d.store.get_video(request.video_id)
            removed = d.catalog.delete(video.id)
            d.files.remove(video)  # after the rows: a failed delete keeps a playable video
        return pb.DeleteVideoResponse(scenes_removed=removed)

    @grpc_errors
    def GetStats(
        self, request: pb.GetStatsRequest, context: grpc.ServicerContext
    ) -> pb.GetStatsResponse:
        d = self._d
        videos, scenes, frames = d.store.counts()
        queued, running = d.jobs.counts()
        index = d.index
        response = convert.stats_to_proto(
            Stats(
                video_count=videos,
                scene_count=scenes,
                frame_count=frames,
                model=d.model,
                dimension=d.store.dim,
                device=d.device,
                index_kind=index.kind,
                index_params=index.params(),
                index_note=index.note(),
                index_size=index.count(),
                jobs_queued=queued,
                jobs_running=running,
            )
        )
        response.generation = d.generation
        response.store_id, response.library_version = d.store.store_id, d.store.generation()
        response.warming = d.store.vectors.warming()
        return response

    @grpc_errors
    def RebuildIndex(
        self, request: pb.RebuildIndexRequest, context: grpc.ServicerContext
    ) -> pb.RebuildIndexResponse:
        try:
            check_choice("index kind", request.kind, INDEX_KINDS)
            count, seconds = self._d.index.rebuild(request.kind, dict(request.params))
        except ValueError as exc:  # an unknown kind or bad index parameters
            raise InvalidArgument(str(exc)) from exc
        return pb.RebuildIndexResponse(index_kind=request.kind, vectors=count, seconds=seconds)

    @grpc_errors
    def Classify(
        self, request: pb.ClassifyRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ClassifyResult]:
        d = self._d  # one generation answers the whole call
        results = d.analytics.classify(
            request.video_ids,
            request.all_videos,
            convert.prompts_from_proto(request.prompts),
            request.null_prompt,
            request.interval_s,
            request.min_visible_s,
        )
        for item in results:
            message = convert.classification_to_proto(item)
            message.model = d.model
            yield message

    @grpc_errors
    def Timeline(
        self, request: pb.TimelineRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.TimelineResult]:
        threshold = request.threshold if request.HasField("threshold") else None
        d = self._d
        results = d.analytics.timeline(
            request.video_ids,
            request.all_videos,
            convert.prompts_from_proto(request.prompts),
            request.smooth,
            threshold,
        )
        for item in results:
            message = convert.timeline_to_proto(item)
            message.model = d.model
            yield message

    @grpc_errors
    def GetThumbnail(
        self, request: pb.GetThumbnailRequest, context: grpc.ServicerContext
    ) -> pb.GetThumbnailResponse:
        thumb = self._d.thumbnails.get(request.scene_id)
        return pb.GetThumbnailResponse(
            jpeg=thumb.jpeg, width=thumb.width, height=thumb.height, time_s=thumb.time_s
        )

    @grpc_errors
    def ReadVideo(
        self, request: pb.ReadVideoRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.VideoBytes]:
        video = self._d.store.get_video(request.video_id)
        path = self._playable(video)
        size, chunks = byte_range(path, request.offset, request.length, MEDIA_CHUNK_BYTES)
        offset = request.offset
        first: pb.VideoBytes | None = pb.VideoBytes(
            offset=offset, total_size=size, content_type=self._d.files.content_type(video)
        )
        for data in chunks:
            if not context.is_active():
                return
            message = first if first is not None else pb.VideoBytes(offset=offset)
            message.data, first = data, None
            offset += len(data)
            yield message
        if first is not None:  # an empty range still says the size and type
            yield first

    @grpc_errors
    def ExportClip(
        self, request: pb.ExportClipRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.ClipBytes]:
        if request.WhichOneof("target") == "scene_id":
            scene, _ = self._d.store.scene_vector(request.scene_id)
            video = self._d.store.get_video(scene.video_id)
            start_s, end_s = scene.start_s, scene.end_s
            name = f"video{video.id}-scene{scene.index}.mp4"
        elif request.WhichOneof("target") == "video_id":
            video = self._d.store.get_video(request.video_id)
            start_s, end_s = request.start_s, request.end_s or video.duration_s
            name = f"video{video.id}-{start_s:.1f}-{end_s:.1f}s.mp4"
        else:
            raise InvalidArgument("say what to export: a scene_id, or a video_id with a span")
        clip = export_clip(self._playable(video), start_s, end_s)
        first: pb.ClipBytes | None = pb.ClipBytes(
            filename=name, start_s=clip.start_s, end_s=clip.end_s, stream_copy=clip.stream_copy
        )
        for data in clip.chunks():
            message = first if first is not None else pb.ClipBytes()
            message.data, first = data, None
            yield message

    def _playable(self, video: Video) -> Path:
        path = self._d.files.location(video)
        if path is None:
            raise NotFound(
                f"the file of video {video.id} is not on the server (it was uploaded while "
                "the server discarded uploads, or moved out of the media roots)"
            )
        return path

    @grpc_errors
    def ImportVideo(
        self, request_iterator: Iterator[pb.ImportVideoRequest], context: grpc.ServicerContext
    ) -> pb.ImportVideoResponse:
        if self._d.importer is None:
            raise FailedPrecondition("this server does not accept imports")
        video = imports.imported_video(request_iterator, self._d.max_upload_bytes)
        with self._active.writing() as d:
            if d.importer is None:
                raise FailedPrecondition("this server does not accept imports")
            return imports.outcome_to_proto(d.importer.commit(video))

    def _concept_book(self) -> ConceptBook:
        if self._d.concepts is None:
            raise FailedPrecondition("this server does not keep concepts")
        return self._d.concepts

    @grpc_errors
    def SaveConcept(
        self, request: pb.SaveConceptRequest, context: grpc.ServicerContext
    ) -> pb.SaveConceptResponse:
        with self._active.writing():  # a swap retrains concepts: none may change meanwhile
            book = self._concept_book()
            concept = book.save(convert.concept_spec(request))
        return pb.SaveConceptResponse(concept=convert.concept_to_proto(concept, True))

    @grpc_errors
    def ListConcepts(
        self, request: pb.ListConceptsRequest, context: grpc.ServicerContext
    ) -> pb.ListConceptsResponse:
        book = self._concept_book()
        return pb.ListConceptsResponse(
            concepts=[convert.concept_to_proto(c, book.usable(c)) for c in book.all()]
        )

    @grpc_errors
    def GetConcept(
        self, request: pb.GetConceptRequest, context: grpc.ServicerContext
    ) -> pb.GetConceptResponse:
        book = self._concept_book()
        concept = book.get(request.name)
        return convert.concept_detail_to_proto(concept, book.usable(concept))

    @grpc_errors
    def DeleteConcept(
        self, request: pb.DeleteConceptRequest, context: grpc.ServicerContext
    ) -> pb.DeleteConceptResponse:
        with self._active.writing():
            return pb.DeleteConceptResponse(version=self._concept_book().delete(request.name))

    @grpc_errors
    def TemporalSearch(
        self, request: pb.TemporalSearchRequest, context: grpc.ServicerContext
    ) -> pb.TemporalSearchResponse:
        d = self._d  # one generation for the whole call (a re-embed may swap meanwhile)
        if d.temporal is None:
            raise FailedPrecondition("this server does not answer temporal queries")
        steps, options = convert.temporal_from_proto(request)
        response = convert.temporal_result_to_proto(d.temporal.search(steps, options))
        response.model = d.model
        return response
