"""What the client's calls return: plain dataclasses converted from the wire messages.

They mirror the server's domain types on purpose: the client must not import the server
(that would pull in torch), and the wire is the contract between the two.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from scenesearch.v1 import scenesearch_pb2 as pb

STAGE_NAMES = {v: k.removeprefix("INGEST_STAGE_").lower() for k, v in pb.IngestStage.items()}


@dataclass(frozen=True, slots=True)
class IngestUpdate:
    job_id: str
    stage: str
    fraction: float
    frames_done: int
    frames_total: int
    video_id: int
    already_ingested: bool
    message: str


@dataclass(frozen=True, slots=True)
class Hit:
    video_id: int
    video_path: str
    scene_id: int
    scene_index: int
    start_s: float
    end_s: float
    best_time_s: float
    score: float
    index_kind: str
    term_scores: list[float] = field(default_factory=list)  # cosine to each query term
    calibrated_score: float = 0.0


@dataclass(frozen=True, slots=True)
class QueryTerm:
    """One term of a composite query: exactly one of text, image, scene_id or concept."""

    text: str | None = None
    image: bytes | None = None
    scene_id: int | None = None
    weight: float = 1.0  # negative: push results away from this term
    concept: str | None = None  # a saved concept's name

    def to_proto(self) -> pb.QueryTerm:
        given = [x is not None for x in (self.text, self.image, self.scene_id, self.concept)]
        if sum(given) != 1:
            raise ValueError("a query term needs exactly one of text, image, scene_id, concept")
        if self.concept is not None:
            return pb.QueryTerm(concept=self.concept, weight=self.weight)
        if self.text is not None:
            return pb.QueryTerm(text=self.text, weight=self.weight)
        if self.image is not None:
            return pb.QueryTerm(image=self.image, weight=self.weight)
        return pb.QueryTerm(scene_id=self.scene_id, weight=self.weight)


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Optional narrowing and ordering of a search."""

    per_video_limit: int = 0  # at most this many hits per video (0: no limit)
    time_from_s: float | None = None  # only scenes overlapping [from, to] of their video
    time_to_s: float | None = None
    sort_by_time: bool = False  # by video, then start time, instead of by score
    calibrated: bool = False  # min_score applies to the calibrated score, not the cosine
    # a retained generation (videos a re-embed kept on the old model); "" the active one
    generation: str = ""

    def apply(self, request: pb.SearchRequest) -> None:
        request.per_video_limit = self.per_video_limit
        if self.time_from_s is not None:
            request.time_from_s = self.time_from_s
        if self.time_to_s is not None:
            request.time_to_s = self.time_to_s
        request.sort_by_time = self.sort_by_time
        if self.calibrated:
            request.min_score_kind = pb.SCORE_KIND_CALIBRATED
        request.generation = self.generation


@dataclass(frozen=True, slots=True)
class SearchResults:
    hits: list[Hit]
    index_kind: str
    query_truncated: bool
    # The model whose vectors answered and its generation of the library (see reembed).
    model: str = ""
    generation: str = ""


@dataclass(frozen=True, slots=True)
class VideoInfo:
    id: int
    path: str
    content_hash: str
    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int
    scene_count: int
    sample_count: int
    ingested_at: float
    rotation: int
    status: str
    playable: bool = False
    size_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Thumbnail:
    jpeg: bytes
    width: int
    height: int
    time_s: float


@dataclass(frozen=True, slots=True)
class VideoStream:
    """A byte range of a video file: its size and type first, then the bytes as they come."""

    total_size: int
    content_type: str
    offset: int
    chunks: Iterator[bytes]


@dataclass(frozen=True, slots=True)
class Clip:
    filename: str
    data: bytes
    start_s: float
    end_s: float
    stream_copy: bool


@dataclass(frozen=True, slots=True)
class SceneInfo:
    id: int
    video_id: int
    index: int
    start_s: float
    end_s: float
    start_frame: int
    end_frame: int


@dataclass(frozen=True, slots=True)
class VideoDetail:
    video: VideoInfo
    scenes: list[SceneInfo]


@dataclass(frozen=True, slots=True)
class ServerStats:
    video_count: int
    scene_count: int
    frame_count: int
    model: str
    dimension: int
    device: str
    index_kind: str
    index_params: dict[str, str] = field(default_factory=dict)
    index_note: str = ""
    index_size: int = 0
    jobs_queued: int = 0
    jobs_running: int = 0
    generation: str = ""
    warming: bool = False  # still building its read copies of the vectors (slower searches)


T = TypeVar("T")


def hit_from_proto(h: pb.SearchHit) -> Hit:
    """Field by field: a search returns up to 1,000 hits, and the generic `fields_of` costs
    8 µs a hit (8 ms at top_k=1000, more than the server's search), this about 2 µs."""
    return Hit(
        h.video_id,
        h.video_path,
        h.scene_id,
        h.scene_index,
        h.start_s,
        h.end_s,
        h.best_time_s,
        h.score,
        h.index_kind,
        list(h.term_scores),
        h.calibrated_score,
    )


def fields_of(message: Any, cls: type[T]) -> T:
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    values = {n: getattr(message, n) for n in names}
    return cls(**{k: _plain(v) for k, v in values.items()})


def _plain(value: Any) -> Any:
    """Wire containers as plain dicts and lists, so results compare and serialise simply."""
    if hasattr(value, "items"):
        return dict(value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        return value
    return list(value)


def update_from_proto(p: pb.IngestProgress) -> IngestUpdate:
    return IngestUpdate(
        p.job_id,
        STAGE_NAMES.get(p.stage, "unknown"),
        p.fraction,
        p.frames_done,
        p.frames_total,
        p.video_id,
        p.already_ingested,
        p.message,
    )


@dataclass(frozen=True, slots=True)
class Segment:
    start_s: float
    end_s: float
    peak_s: float = 0.0
    peak_score: float = 0.0


@dataclass(frozen=True, slots=True)
class Interval:
    start_s: float
    end_s: float
    label: str
    counts: list[int]


@dataclass(frozen=True, slots=True)
class PromptSummary:
    label: str
    coverage_pct: float
    contains: bool
    first_seen_s: float  # -1 when never seen
    visible_s: float
    segments: list[Segment]


@dataclass(frozen=True, slots=True)
class Classification:
    video_id: int
    video_path: str
    duration_s: float
    labels: list[str]
    intervals: list[Interval]
    prompts: list[PromptSummary]
    model: str = ""  # whose vectors were compared


@dataclass(frozen=True, slots=True)
class Curve:
    label: str
    scores: list[float]
    segments: list[Segment]


@dataclass(frozen=True, slots=True)
class Timeline:
    video_id: int
    video_path: str
    duration_s: float
    times_s: list[float]
    curves: list[Curve]
    scene_starts_s: list[float]
    model: str = ""  # whose vectors were compared


def prompts_to_proto(
    texts: Sequence[str] = (), images: Sequence[Path | bytes] = (), concepts: Sequence[str] = ()
) -> list[pb.Prompt]:
    prompts = [pb.Prompt(text=t) for t in texts]
    prompts += [pb.Prompt(concept=c) for c in concepts]
    for n, image in enumerate(images, start=1):
        data = image if isinstance(image, bytes) else Path(image).read_bytes()
        label = Path(image).name if not isinstance(image, bytes) else f"image {n}"
        prompts.append(pb.Prompt(image=data, label=label))
    return prompts


def _segment(s: pb.Segment) -> Segment:
    return Segment(s.start_s, s.end_s, s.peak_s, s.peak_score)


def classification_from_proto(r: pb.ClassifyResult) -> Classification:
    return Classification(
        video_id=r.video_id,
        video_path=r.video_path,
        duration_s=r.duration_s,
        labels=list(r.labels),
        intervals=[Interval(i.start_s, i.end_s, i.label, list(i.counts)) for i in r.intervals],
        prompts=[
            PromptSummary(
                p.label,
                p.coverage_pct,
                p.contains,
                p.first_seen_s,
                p.visible_s,
                [_segment(s) for s in p.segments],
            )
            for p in r.prompts
        ],
        model=r.model,
    )


def timeline_from_proto(r: pb.TimelineResult) -> Timeline:
    return Timeline(
        video_id=r.video_id,
        video_path=r.video_path,
        duration_s=r.duration_s,
        times_s=list(r.times_s),
        curves=[
            Curve(c.label, list(c.scores), [_segment(s) for s in c.segments]) for c in r.curves
        ],
        scene_starts_s=list(r.scene_starts_s),
        model=r.model,
    )


@dataclass(frozen=True, slots=True)
class TemporalStep:
    """One step of a temporal query: it occurs where its (smoothed) similarity is at or above
    `threshold`; a negated step must not occur anywhere inside a span."""

    term: QueryTerm
    threshold: float = 0.25
    negated: bool = False

    def to_proto(self) -> pb.TemporalStep:
        return pb.TemporalStep(
            term=self.term.to_proto(), threshold=self.threshold, negated=self.negated
        )


@dataclass(frozen=True, slots=True)
class StepMatch:
    step: int  # index of the step in the query
    start_s: float  # the step's occurrence
    end_s: float
    peak_s: float  # the time it matched
    score: float


@dataclass(frozen=True, slots=True)
class TemporalSpan:
    video_id: int
    video_path: str
    start_s: float
    end_s: float
    score: float  # mean of the matched steps' peak similarities
    matches: list[StepMatch]


@dataclass(frozen=True, slots=True)
class TemporalResults:
    spans: list[TemporalSpan]
    videos_scanned: int
    shortlisted: bool  # the index chose which videos were read
    query_truncated: bool = False
    model: str = ""  # whose vectors were compared


def temporal_from_proto(r: pb.TemporalSearchResponse) -> TemporalResults:
    return TemporalResults(
        spans=[
            TemporalSpan(
                s.video_id,
                s.video_path,
                s.start_s,
                s.end_s,
                s.score,
                [StepMatch(m.step, m.start_s, m.end_s, m.peak_s, m.score) for m in s.matches],
            )
            for s in r.spans
        ],
        videos_scanned=r.videos_scanned,
        shortlisted=r.shortlisted,
        query_truncated=r.query_truncated,
        model=r.model,
    )
