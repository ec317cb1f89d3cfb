"""Ingest orchestrator: decode once → detect + sample → embed (overlapped) → assign scenes.

It receives its stages (decoder, cut detector, image encoder), the way clip-retrieval's runner
receives reader, mapper and writer, so each can be swapped or tested alone. It touches no
database: the caller commits the returned IngestResult in one transaction.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from scenesearch.server.domain import DecodedVideo, IngestParams, IngestResult, Vectors
from scenesearch.server.ingest.pipeline.decode import StreamInfo, VideoDecoder
from scenesearch.server.ingest.pipeline.detect import CutDetector
from scenesearch.server.ingest.pipeline.embed import ImageEncoder, OverlappedEmbedder
from scenesearch.server.ingest.pipeline.sample import (
    FrameClock,
    IntervalSampler,
    RecentFrames,
    assign_frames,
    build_scenes,
    scene_vectors,
)
from scenesearch.server.ingest.pipeline.thumbnail import THUMBNAIL_WIDTH, ThumbnailCandidates

# (frames_done, frames_total_estimate) -> None; called a few times a second at most.
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Stages:
    decoder: Callable[[Path], VideoDecoder]
    detector: Callable[[float], CutDetector]  # built per video, from its frame rate
    encoder: ImageEncoder


def default_stages(params: IngestParams, encoder: ImageEncoder) -> Stages:
    return Stages(
        decoder=VideoDecoder,
        detector=lambda fps: CutDetector.named(params.detector, params.threshold, fps),
        encoder=encoder,
    )


# (frame_no, time_s, rgb at CLIP scale) of each sampled frame, in decode order.
FrameSink = Callable[[int, float, npt.NDArray[np.uint8]], None]


@dataclass(frozen=True, slots=True)
class DecodePass:
    """What one decode pass found, before any embedding: the input of `assemble`."""

    stream: StreamInfo
    times: tuple[float, ...]
    cuts: tuple[int, ...]
    thumbnails: ThumbnailCandidates
    warnings: tuple[str, ...]
    decode_s: float


def ingest_file(
    path: Path,
    params: IngestParams,
    stages: Stages,
    on_progress: ProgressCallback | None = None,
    every_frame: bool = False,
) -> IngestResult:
    """Run the pipeline over one file. `every_frame` embeds all frames (the naive baseline)."""
    started = time.perf_counter()
    embedder = OverlappedEmbedder(stages.encoder, params.batch_size).start()
    try:
        decoded = decode_pass(path, params, stages, embedder.submit, on_progress, every_frame)
    except BaseException:
        with contextlib.suppress(Exception):
            embedder.finish()  # stop its thread; the decode error is the one to report
        raise
    keys, vectors = embedder.finish()
    if on_progress is not None:
        on_progress(len(decoded.times), len(decoded.times))
    timings = {
        "decode_s": decoded.decode_s,
        "embed_busy_s": embedder.busy_s,
        "frames_embedded": float(embedder.embedded),
    }
    result = assemble(decoded, keys, vectors, timings)
    result.timings["total_s"] = time.perf_counter() - started
    return result


def decode_pass(
    path: Path,
    params: IngestParams,
    stages: Stages,
    sink: FrameSink,
    on_progress: ProgressCallback | None = None,
    every_frame: bool = False,
) -> DecodePass:
    """Decode once, detect cuts, and hand each sampled frame to `sink` (an embedder, or a
    queue to remote embedders): every `sample_interval_s`, plus the first frame of every
    scene."""
    started = time.perf_counter()
    with stages.decoder(path) as decoder:
        stream = decoder.open()
        detector = stages.detector(stream.average_fps)
        recent = RecentFrames(detector.lookback_frames + 2)
        sampler = IntervalSampler(params.sample_interval_s)
        thumbnails = ThumbnailCandidates()
        sampled: set[int] = set()
        times: list[float] = []
        cuts: list[int] = []
        last_report = 0.0
        for frame in decoder.frames():
            times.append(frame.time_s)
            recent.add(frame)
            new_cuts = detector.push(frame.index, frame.detect_bgr)
            cuts.extend(new_cuts)
            if every_frame or sampler.due(frame.time_s):
                sampled.add(frame.index)
                sink(frame.index, frame.time_s, frame.rgb)
                thumbnails.offer(frame.index, frame.time_s, frame.upright_rgb(THUMBNAIL_WIDTH))
            for cut in new_cuts:
                # The first frame of every scene is embedded, so no scene is left without one.
                first = recent.find(cut)
                if first is not None and cut not in sampled:
                    sampled.add(cut)
                    sink(first.index, first.time_s, first.rgb)
                    thumbnails.offer(first.index, first.time_s, first.upright_rgb(THUMBNAIL_WIDTH))
            now = time.perf_counter()
            if on_progress is not None and now - last_report >= 0.2:
                last_report = now
                on_progress(frame.index + 1, max(stream.estimated_frames, frame.index + 1))
        cuts.extend(detector.finish())
        warnings = tuple(decoder.warnings)
    return DecodePass(
        stream, tuple(times), tuple(cuts), thumbnails, warnings, time.perf_counter() - started
    )


def assemble(
    decoded: DecodePass,
    keys: Sequence[tuple[int, float]],
    vectors: Vectors,
    timings: dict[str, float] | None = None,
) -> IngestResult:
    """Scenes from the cuts, frames attached to them, scene vectors and thumbnails, from a
    decode pass and the vectors of its sampled frames (`keys[i]` is row i of `vectors`)."""
    stream, times = decoded.stream, decoded.times
    clock = FrameClock(times)
    scenes = build_scenes(decoded.cuts, clock)
    frames = assign_frames(keys, scenes)
    order = {key: row for row, key in enumerate(keys)}
    frame_vectors = vectors[[order[(f.frame_no, f.time_s)] for f in frames]]
    info = DecodedVideo(
        duration_s=clock.end_time(),
        fps=len(times) / clock.end_time() if clock.end_time() > 0 else stream.average_fps,
        width=stream.width,
        height=stream.height,
        frame_count=len(times),
        rotation=stream.rotation,
    )
    vectors_of_scenes = scene_vectors(frames, frame_vectors, len(scenes))
    return IngestResult(
        info=info,
        scenes=scenes,
        frames=frames,
        frame_vectors=frame_vectors,
        scene_vectors=vectors_of_scenes,
        timings=dict(timings or {}),
        warnings=decoded.warnings,
        thumbnails=decoded.thumbnails.choose(frames, frame_vectors, vectors_of_scenes),
    )
