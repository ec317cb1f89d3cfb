"""Proto ⇄ domain conversion. Pure functions: no I/O, no model, no state."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from scenesearch.server.domain import (
    IngestParams,
    Progress,
    Scene,
    Stage,
    Stats,
    Video,
)
from scenesearch.server.errors import InvalidArgument
from scenesearch.server.query.analytics import Prompt, VideoClassification, VideoTimeline
from scenesearch.server.query.concepts import ConceptSpec
from scenesearch.server.query.frame_maths import Span
from scenesearch.server.query.search import (
    CompositeQuery,
    ConceptQuery,
    ImageQuery,
    Query,
    SceneQuery,
    SearchOptions,
    SearchResult,
    SingleQuery,
    Term,
    TextQuery,
)
from scenesearch.server.query.temporal import (
    DEFAULT_SHORTLIST_SCENES,
    TemporalOptions,
    TemporalResult,
)
from scenesearch.server.query.temporal import Step as TemporalStep
from scenesearch.server.storage.concepts import Concept, Examples
from scenesearch.v1 import scenesearch_pb2 as pb

STAGES = {
    Stage.QUEUED: pb.INGEST_STAGE_QUEUED,
    Stage.HASHING: pb.INGEST_STAGE_HASHING,
    Stage.DECODING: pb.INGEST_STAGE_DECODING,
    Stage.COMMITTING: pb.INGEST_STAGE_COMMITTING,
    Stage.DONE: pb.INGEST_STAGE_DONE,
}


def ingest_params(options: pb.IngestOptions, defaults: IngestParams) -> IngestParams:
    """The server's defaults with what the request sets (proto zero means "not set")."""
    try:
        return replace(
            defaults,
            sample_interval_s=options.sample_interval_s or defaults.sample_interval_s,
            detector=options.detector or defaults.detector,
            threshold=options.threshold or defaults.threshold,
        )
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from exc


def progress_to_proto(progress: Progress) -> pb.IngestProgress:
    return pb.IngestProgress(
        job_id=progress.job_id,
        stage=STAGES[progress.stage],
        fraction=progress.fraction,
        frames_done=progress.frames_done,
        frames_total=progress.frames_total,
        video_id=progress.video_id,
        already_ingested=progress.already_ingested,
        message=progress.message,
    )


def query_from_proto(request: pb.SearchRequest) -> Query:
    which = request.WhichOneof("query")
    if request.terms:
        if which is not None:
            raise InvalidArgument(
                f"the request sets both {which} and composite terms; send one or the other"
            )
        return CompositeQuery(
            tuple(
                Term(_term(t, n, request.exclude_same_video), t.weight or 1.0)
                for n, t in enumerate(request.terms, start=1)
            )
        )
    if which == "text":
        return TextQuery(request.text)
    if which == "image":
        return ImageQuery(request.image)
    if which == "scene_id":
        return SceneQuery(request.scene_id, request.exclude_same_video)
    raise InvalidArgument("the query is empty: set one of text, image, scene_id or terms")


def _term(term: pb.QueryTerm, number: int, exclude_same_video: bool) -> SingleQuery:
    which = term.WhichOneof("term")
    if which == "text":
        return TextQuery(term.text)
    if which == "image":
        return ImageQuery(term.image)
    if which == "scene_id":
        return SceneQuery(term.scene_id, exclude_same_video)
    if which == "concept":
        return ConceptQuery(term.concept)
    raise InvalidArgument(f"query term {number} is empty: set its text, image, scene_id or concept")


def _optional_time(request: pb.SearchRequest, field: str) -> float | None:
    if not request.HasField(field):
        return None
    value = float(getattr(request, field))
    if not math.isfinite(value) or value < 0:
        raise InvalidArgument(f"{field} must be a time in seconds, not negative, got {value}")
    return value


def search_options(request: pb.SearchRequest) -> SearchOptions:
    min_score = request.min_score if request.HasField("min_score") else -math.inf
    if math.isnan(min_score):
        raise InvalidArgument("min_score must be a number")
    return SearchOptions(
        top_k=request.top_k,
        video_ids=tuple(request.video_ids),
        min_score=min_score,
        min_score_calibrated=request.min_score_kind == pb.SCORE_KIND_CALIBRATED,
        per_video_limit=request.per_video_limit,
        time_from_s=_optional_time(request, "time_from_s"),
        time_to_s=_optional_time(request, "time_to_s"),
        sort_by_time=request.sort_by_time,
    )


def search_result_to_proto(result: SearchResult) -> pb.SearchResponse:
    response = pb.SearchResponse(
        index_kind=result.index_kind, query_truncated=result.query_truncated
    )
    # Straight from the columns, each hit made in place: no SceneHit objects on the way (see
    # query/hits.py), and add() is 40% faster than a list of messages, which are copied.
    add, kind = response.hits.add, result.index_kind
    for (
        video,
        path,
        sid,
        index,
        start,
        end,
        best,
        score,
        terms,
        calibrated,
    ) in result.table.fields():
        add(
            video_id=video,
            video_path=path,
            scene_id=sid,
            scene_index=index,
            start_s=start,
            end_s=end,
            best_time_s=best,
            score=score,
            index_kind=kind,
            term_scores=terms,
            calibrated_score=calibrated,
        )
    return response


def video_to_proto(video: Video, file_size: int = 0) -> pb.Video:
    """`file_size` is that of the file the server keeps for it (0: none, not playable)."""
    return pb.Video(
        id=video.id,
        path=video.path,
        content_hash=video.content_hash,
        duration_s=video.duration_s,
        fps=video.fps,
        width=video.width,
        height=video.height,
        frame_count=video.frame_count,
        scene_count=video.scene_count,
        sample_count=video.sample_count,
        ingested_at=video.ingested_at,
        rotation=video.rotation,
        status=video.status,
        playable=file_size > 0,
        size_bytes=file_size,
    )


def scene_to_proto(scene: Scene) -> pb.Scene:
    return pb.Scene(
        id=scene.id,
        video_id=scene.video_id,
        index=scene.index,
        start_s=scene.start_s,
        end_s=scene.end_s,
        start_frame=scene.start_frame,
        end_frame=scene.end_frame,
    )


def stats_to_proto(stats: Stats) -> pb.GetStatsResponse:
    return pb.GetStatsResponse(
        video_count=stats.video_count,
        scene_count=stats.scene_count,
        frame_count=stats.frame_count,
        model=stats.model,
        dimension=stats.dimension,
        device=stats.device,
        index_kind=stats.index_kind,
        index_params=stats.index_params,
        index_note=stats.index_note,
        index_size=stats.index_size,
        jobs_queued=stats.jobs_queued,
        jobs_running=stats.jobs_running,
    )


def prompts_from_proto(prompts: Sequence[pb.Prompt]) -> list[Prompt]:
    return [Prompt(text=p.text, image=p.image, label=p.label, concept=p.concept) for p in prompts]


def _segment(span: Span) -> pb.Segment:
    return pb.Segment(
        start_s=span.start_s, end_s=span.end_s, peak_s=span.peak_s, peak_score=span.peak_score
    )


def classification_to_proto(item: VideoClassification) -> pb.ClassifyResult:
    labels = item.labels
    return pb.ClassifyResult(
        video_id=item.video.id,
        video_path=item.video.path,
        duration_s=item.video.duration_s,
        labels=labels,
        intervals=[
            pb.IntervalLabel(
                start_s=i.start_s, end_s=i.end_s, label=labels[i.label], counts=i.counts
            )
            for i in item.result.intervals
        ],
        prompts=[
            pb.PromptSummary(
                label=label,
                coverage_pct=s.coverage_pct,
                contains=s.contains,
                first_seen_s=s.first_seen_s,
                visible_s=s.visible_s,
                segments=[_segment(seg) for seg in s.segments],
            )
            for label, s in zip(labels, item.result.summaries, strict=True)
        ],
    )


def timeline_to_proto(item: VideoTimeline) -> pb.TimelineResult:
    return pb.TimelineResult(
        video_id=item.video.id,
        video_path=item.video.path,
        duration_s=item.video.duration_s,
        times_s=item.times_s.tolist(),
        curves=[
            pb.Curve(
                label=c.label, scores=c.scores.tolist(), segments=[_segment(s) for s in c.segments]
            )
            for c in item.curves
        ],
        scene_starts_s=item.scene_starts_s,
    )


def examples_from_proto(examples: pb.ConceptExamples) -> Examples:
    return Examples(tuple(examples.scene_ids), tuple(examples.images), tuple(examples.texts))


def concept_spec(request: pb.SaveConceptRequest) -> ConceptSpec:
    return ConceptSpec(
        request.name, examples_from_proto(request.positive), examples_from_proto(request.negative)
    )


def examples_to_proto(examples: Examples) -> pb.ConceptExamples:
    return pb.ConceptExamples(
        scene_ids=examples.scene_ids, images=examples.images, texts=examples.texts
    )


def concept_to_proto(concept: Concept, usable: bool) -> pb.ConceptInfo:
    t = concept.training
    info = pb.ConceptInfo(
        name=concept.name,
        version=concept.version,
        model=concept.model,
        usable=usable,
        positive_examples=len(concept.positive),
        negative_examples=len(concept.negative),
        positive_vectors=t.positive_vectors,
        negative_vectors=t.negative_vectors,
        random_negatives=t.random_negatives,
        cv_folds=t.cv_folds,
        created_at=concept.created_at,
    )
    if t.cv_accuracy is not None:
        info.cv_accuracy = t.cv_accuracy
    return info


def concept_detail_to_proto(concept: Concept, usable: bool) -> pb.GetConceptResponse:
    return pb.GetConceptResponse(
        concept=concept_to_proto(concept, usable),
        positive=examples_to_proto(concept.positive),
        negative=examples_to_proto(concept.negative),
        weights=concept.training.weights.tolist(),
        bias=concept.training.bias,
    )


def temporal_from_proto(
    request: pb.TemporalSearchRequest,
) -> tuple[list[TemporalStep], TemporalOptions]:
    steps = []
    for n, step in enumerate(request.steps, start=1):
        if not step.HasField("threshold"):
            raise InvalidArgument(f"step {n} has no threshold; give each step a similarity")
        steps.append(TemporalStep(_term(step.term, n, False), step.threshold, step.negated))
    max_gap_s = request.max_gap_s if request.HasField("max_gap_s") else math.inf
    options = TemporalOptions(
        max_gap_s=max_gap_s,
        smooth=request.smooth,
        top_k=request.top_k,
        video_ids=tuple(request.video_ids),
        shortlist_scenes=request.shortlist_scenes or DEFAULT_SHORTLIST_SCENES,
        exhaustive=request.exhaustive,
    )
    return steps, options


def temporal_result_to_proto(result: TemporalResult) -> pb.TemporalSearchResponse:
    return pb.TemporalSearchResponse(
        spans=[
            pb.TemporalSpan(
                video_id=hit.video.id,
                video_path=hit.video.path,
                start_s=hit.span.start_s,
                end_s=hit.span.end_s,
                score=hit.span.score,
                matches=[
                    pb.StepMatch(
                        step=m.step,
                        start_s=m.start_s,
                        end_s=m.end_s,
                        peak_s=m.peak_s,
                        score=m.score,
                    )
                    for m in hit.span.matches
                ],
            )
            for hit in result.hits
        ],
        videos_scanned=result.videos_scanned,
        shortlisted=result.videos_shortlisted,
        query_truncated=result.query_truncated,
    )
