"""Commit a video decoded and embedded elsewhere (a Ray cluster): the server side of ImportVideo.

The server stays the only writer. An import is checked whole before anything is written:
the model id and dimension (FailedPrecondition on a mismatch: vectors of two models are never
mixed), scenes that tile the video, frames inside their scenes, finite unit vectors. Then,
under one lock: deduplicate by content hash, reserve the video id, commit in one transaction
(`Catalog.add`, as a local ingest does). A retried import of the same bytes finds the ready
video and makes no second copy.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scenesearch.server.domain import (
    DecodedVideo,
    IngestResult,
    SampledFrame,
    SceneSpan,
    SceneThumbnail,
    Vectors,
)
from scenesearch.server.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from scenesearch.server.ingest.pipeline.sample import scene_vectors
from scenesearch.server.storage.catalog import Catalog
from scenesearch.server.storage.store import Store
from scenesearch.server.vector_maths import normalise

log = logging.getLogger(__name__)

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# A unit vector written as float32 (or computed in bf16/fp16 and widened) is within this of 1.
NORM_TOLERANCE = 1e-2


class ImportBusy(ResourceExhausted):
    """The same content is being ingested by this server right now: retry shortly."""


@dataclass(frozen=True, slots=True)
class ImportedVideo:
    """An import as it arrived: who made it, and what it claims to contain."""

    path: str
    content_hash: str
    model: str
    dimension: int
    info: DecodedVideo
    scenes: tuple[SceneSpan, ...]
    frames: tuple[SampledFrame, ...]
    frame_vectors: Vectors
    thumbnails: tuple[SceneThumbnail, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    video_id: int
    already_ingested: bool
    scene_count: int
    sample_count: int


def check_import(video: ImportedVideo, model: str, dimension: int) -> None:
    """Raise FailedPrecondition for another model, InvalidArgument for an inconsistent import."""
    if video.model != model or video.dimension != dimension:
        raise FailedPrecondition(
            f"the import was embedded with model {video.model!r} (dimension {video.dimension}) "
            f"but this server uses {model!r} (dimension {dimension}); their vectors are not "
            f"comparable. Run the import with --model {model!r}."
        )
    if not SHA256_HEX.fullmatch(video.content_hash):
        raise InvalidArgument("content_hash must be the file's SHA-256 in lowercase hex")
    if not video.path:
        raise InvalidArgument("the import has no path")
    _check_scenes(video.scenes, video.info.frame_count)
    _check_frames(video.frames, video.frame_vectors, video.scenes, dimension)
    for thumb in video.thumbnails:
        if not 0 <= thumb.scene_index < len(video.scenes):
            raise InvalidArgument(f"a thumbnail names scene {thumb.scene_index}, which is absent")


def _check_scenes(scenes: Sequence[SceneSpan], frame_count: int) -> None:
    if not scenes:
        raise InvalidArgument("an import needs at least one scene")
    expected_start = 0
    for position, scene in enumerate(scenes):
        if scene.index != position:
            raise InvalidArgument(f"scene {position} arrived with index {scene.index}")
        if scene.start_frame != expected_start or scene.end_frame <= scene.start_frame:
            raise InvalidArgument(
                f"scene {position} spans frames [{scene.start_frame}, {scene.end_frame}); "
                f"scenes must tile the video from frame 0 without gaps or overlaps"
            )
        if not (np.isfinite(scene.start_s) and np.isfinite(scene.end_s)) or (
            scene.end_s < scene.start_s
        ):
            raise InvalidArgument(f"scene {position} has invalid times")
        expected_start = scene.end_frame
    if expected_start != frame_count:
        raise InvalidArgument(
            f"the scenes end at frame {expected_start} but the video has {frame_count} frames"
        )


def _check_frames(
    frames: Sequence[SampledFrame],
    vectors: Vectors,
    scenes: Sequence[SceneSpan],
    dimension: int,
) -> None:
    if not frames:
        raise InvalidArgument("an import needs at least one sampled frame")
    if vectors.shape != (len(frames), dimension):
        raise InvalidArgument(
            f"expected {len(frames)} vectors of dimension {dimension}, got shape {vectors.shape}"
        )
    previous = -1
    for frame in frames:
        if frame.frame_no <= previous:
            raise InvalidArgument("frames must arrive in increasing frame order, once each")
        previous = frame.frame_no
        if not 0 <= frame.scene_index < len(scenes):
            raise InvalidArgument(f"frame {frame.frame_no} names an absent scene")
        scene = scenes[frame.scene_index]
        if not scene.start_frame <= frame.frame_no < scene.end_frame:
            raise InvalidArgument(f"frame {frame.frame_no} lies outside scene {scene.index}")
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1)
    if not np.all(np.isfinite(norms)) or np.any(np.abs(norms - 1.0) > NORM_TOLERANCE):
        raise InvalidArgument("frame vectors must be finite and L2-normalised")


def to_result(video: ImportedVideo) -> IngestResult:
    """The IngestResult a local ingest would have produced: scene vectors are recomputed here
    from the frames (the L2-normalised mean), so one rule makes them wherever frames came
    from."""
    frame_vectors = normalise(video.frame_vectors.astype(np.float32))
    return IngestResult(
        info=video.info,
        scenes=video.scenes,
        frames=video.frames,
        frame_vectors=frame_vectors,
        scene_vectors=scene_vectors(video.frames, frame_vectors, len(video.scenes)),
        warnings=video.warnings,
        thumbnails=video.thumbnails,
    )


class VideoImporter:
    """Checks and commits imports one at a time (SQLite has one writer anyway)."""

    def __init__(self, store: Store, catalog: Catalog, model: str) -> None:
        self._store, self._catalog, self._model = store, catalog, model
        self._lock = threading.Lock()

    def commit(self, video: ImportedVideo) -> ImportOutcome:
        check_import(video, self._model, self._store.dim)
        result = to_result(video)
        with self._lock:
            pending = self._store.video_by_hash(video.content_hash)
            if pending is not None and pending.status != "ready":
                # Imports are serialised here and restarts discard stale reservations, so this
                # is a local ingest of the same bytes still running: let it finish.
                raise ImportBusy(
                    f"{video.path} (same content) is being ingested by this server right now; "
                    "retry in a few seconds"
                )
            existing, video_id = self._store.reserve_video(video.path, video.content_hash)
            if existing is not None:
                return ImportOutcome(existing.id, True, existing.scene_count, existing.sample_count)
            try:
                committed = self._catalog.add(video_id, result)
            except NotFound:
                # A local ingest took over the reservation in the instant between the two
                # statements above and committed it: the content is there once.
                again = self._store.video_by_hash(video.content_hash)
                if again is None or again.status != "ready":
                    raise
                return ImportOutcome(again.id, True, again.scene_count, again.sample_count)
            except BaseException:
                self._store.discard_reservations(video_id)
                raise
        log.info("imported %s as video %d", video.path, committed.id)
        return ImportOutcome(committed.id, False, len(video.scenes), len(video.frames))
