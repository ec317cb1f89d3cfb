"""Domain values shared by the pipeline, the store, the query engine and the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt

from scenesearch.contract import (
    DEFAULT_DETECTOR,
    DEFAULT_SAMPLE_INTERVAL_S,
    DETECTORS,
    check_choice,
    check_sample_interval,
)

Vectors = npt.NDArray[np.float32]


class JobStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Stage(str, Enum):
    QUEUED = "queued"
    HASHING = "hashing"
    DECODING = "decoding"
    COMMITTING = "committing"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class DecodedVideo:
    """What the decoder learnt about a file."""

    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int
    rotation: int = 0


@dataclass(frozen=True, slots=True)
class SceneSpan:
    """A scene as found by detection: frames [start_frame, end_frame)."""

    index: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class SampledFrame:
    frame_no: int
    time_s: float
    scene_index: int


@dataclass(frozen=True, slots=True)
class SceneThumbnail:
    """A scene's small upright JPEG, taken from one of its sampled frames."""

    scene_index: int
    time_s: float
    jpeg: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Everything one ingest produced; committed to the store in one transaction."""

    info: DecodedVideo
    scenes: tuple[SceneSpan, ...]
    frames: tuple[SampledFrame, ...]
    frame_vectors: Vectors  # (len(frames), dim), L2-normalised
    scene_vectors: Vectors  # (len(scenes), dim), L2-normalised mean of each scene's frames
    timings: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    thumbnails: tuple[SceneThumbnail, ...] = ()  # one per scene, in scene order


@dataclass(frozen=True, slots=True)
class Video:
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
    rotation: int = 0
    status: str = "ready"  # or "ingesting" while its ingest runs


@dataclass(frozen=True, slots=True)
class Scene:
    id: int
    video_id: int
    index: int
    start_s: float
    end_s: float
    start_frame: int
    end_frame: int


@dataclass(frozen=True, slots=True)
class SceneHit:
    video_id: int
    video_path: str
    scene_id: int
    scene_index: int
    start_s: float
    end_s: float
    best_time_s: float
    score: float
    index_kind: str
    term_scores: tuple[float, ...] = ()  # cosine to each query term, in request order
    calibrated_score: float = 0.0


@dataclass(frozen=True, slots=True)
class Progress:
    job_id: str
    stage: Stage
    fraction: float = 0.0
    frames_done: int = 0
    frames_total: int = 0
    video_id: int = 0
    already_ingested: bool = False
    message: str = ""


@dataclass(frozen=True, slots=True)
class IngestParams:
    """How one video is ingested. The defaults here are the server's; the bounds are the
    API's (scenesearch.contract). Invalid values raise ValueError on construction."""

    sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S
    detector: str = DEFAULT_DETECTOR
    threshold: float = 0.0  # 0 means the detector's own default
    batch_size: int = 16  # frames per image-encoder forward pass

    def __post_init__(self) -> None:
        check_sample_interval(self.sample_interval_s)
        check_choice("detector", self.detector, DETECTORS)
        if not self.threshold >= 0:  # NaN too
            raise ValueError(f"threshold must be positive, got {self.threshold}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")


@dataclass(frozen=True, slots=True)
class Stats:
    video_count: int
    scene_count: int
    frame_count: int
    model: str
    dimension: int
    device: str
    index_kind: str
    index_params: dict[str, str]
    index_note: str
    index_size: int
    jobs_queued: int
    jobs_running: int
