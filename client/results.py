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


@dataclass(frozen=True, slots=True)
class SearchResults:
    hits: list[Hit]
    index_kind: str
    query_truncated: bool


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


T = TypeVar("T")


def fields_of(message: Any, cls: type[T]) -> T:
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    values = {n: getattr(message, n) for n in names}
    return cls(**{k: (dict(v) if hasattr(v, "items") else v) for k, v in values.items()})


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


def prompts_to_proto(
    texts: Sequence[str] = (), images: Sequence[Path | bytes] = ()
) -> list[pb.Prompt]:
    prompts = [pb.Prompt(text=t) for t in texts]
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
    )
