"""Typed results of the Classify and Timeline RPCs, and how prompts are sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scenesearch.v1 import scenesearch_pb2 as pb


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
