"""Re-embedding one video: the same frames, scenes and ids, the new model's vectors.

Scenes and sampled frames do not depend on the model, so a move keeps them exactly: the
worker re-decodes the file once (the ingest pipeline's decoder and overlapped image encoder)
and embeds the frames the source generation sampled, identified by frame number and checked
by time. Cut detection is not run again: it would cost time and could only disagree with
the scenes clients, concepts and thumbnails already refer to by id (the ingest parameters
of an old video are not recorded, so re-detecting could cut differently).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scenesearch.server.domain import DecodedVideo, IngestResult, SampledFrame, SceneSpan
from scenesearch.server.errors import InvalidArgument
from scenesearch.server.ingest.pipeline.decode import VideoDecoder
from scenesearch.server.ingest.pipeline.embed import ImageEncoder, OverlappedEmbedder
from scenesearch.server.ingest.pipeline.sample import scene_vectors
from scenesearch.server.storage.store import Store

TIME_TOLERANCE_S = 1e-3  # decoding the same file again gives the same presentation times


@dataclass(frozen=True, slots=True)
class ReembedTask:
    """Sent to the ingest worker instead of an IngestTask; answered with a JobFinished
    whose result holds the stored scenes and frames with the new vectors."""

    job_id: str
    path: str
    info: DecodedVideo
    scenes: tuple[SceneSpan, ...]
    frames: tuple[SampledFrame, ...]  # in frame order
    batch_size: int = 16


@dataclass(frozen=True, slots=True)
class StoredIds:
    """Row ids of the source generation, reused so clients' ids stay valid."""

    scene_ids: tuple[int, ...]  # in scene order
    frame_ids: tuple[int, ...]  # in the task's frame order


def task_for(store: Store, video_id: int, path: Path, job_id: str) -> tuple[ReembedTask, StoredIds]:
    """The re-embed task of a video from its rows in `store` (the source generation)."""
    video = store.get_video(video_id)
    scenes = store.scenes_of_video(video_id)
    index_of = {s.id: s.index for s in scenes}
    rows = store.db.conn.execute(
        "SELECT id, scene_id, frame_no, time_s FROM frames WHERE video_id = ? ORDER BY frame_no",
        (video_id,),
    ).fetchall()
    info = DecodedVideo(
        duration_s=video.duration_s,
        fps=video.fps,
        width=video.width,
        height=video.height,
        frame_count=video.frame_count,
        rotation=video.rotation,
    )
    task = ReembedTask(
        job_id=job_id,
        path=str(path),
        info=info,
        scenes=tuple(
            SceneSpan(s.index, s.start_frame, s.end_frame, s.start_s, s.end_s) for s in scenes
        ),
        frames=tuple(SampledFrame(int(r[2]), float(r[3]), index_of[int(r[1])]) for r in rows),
    )
    return task, StoredIds(tuple(s.id for s in scenes), tuple(int(r[0]) for r in rows))


def reembed_file(
    task: ReembedTask,
    encoder: ImageEncoder,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestResult:
    """Decode `task.path` once and embed the frames it names (runs in the worker)."""
    wanted = {f.frame_no: f for f in task.frames}
    last = max(wanted, default=-1)
    embedder = OverlappedEmbedder(encoder, task.batch_size).start()
    found: set[int] = set()
    try:
        with VideoDecoder(Path(task.path)) as decoder:
            decoder.open()
            for frame in decoder.frames():
                stored = wanted.get(frame.index)
                if stored is not None:
                    if abs(stored.time_s - frame.time_s) > TIME_TOLERANCE_S:
                        raise InvalidArgument(
                            f"frame {frame.index} of {task.path} is at {frame.time_s:.3f}s, "
                            f"not {stored.time_s:.3f}s as stored: the file decodes differently"
                        )
                    embedder.submit(frame.index, frame.time_s, frame.rgb)
                    found.add(frame.index)
                if on_progress is not None and frame.index % 30 == 0:
                    on_progress(len(found), len(wanted))
                if frame.index >= last:
                    break  # every sampled frame is in hand: the rest need not be decoded
    except BaseException:
        with contextlib.suppress(Exception):
            embedder.finish()  # stop its thread; the decode error is the one to report
        raise
    keys, vectors = embedder.finish()
    if len(found) != len(wanted):
        raise InvalidArgument(
            f"{task.path} yields {len(found)} of the {len(wanted)} stored frames: the file is "
            "not the one that was ingested"
        )
    order = {key[0]: row for row, key in enumerate(keys)}
    frame_vectors = vectors[[order[f.frame_no] for f in task.frames]]
    if on_progress is not None:
        on_progress(len(found), len(wanted))
    return IngestResult(
        info=task.info,
        scenes=task.scenes,
        frames=task.frames,
        frame_vectors=frame_vectors.astype(np.float32),
        scene_vectors=scene_vectors(task.frames, frame_vectors, len(task.scenes)),
    )
