"""The CPU work of a distributed ingest, as plain functions the driver turns into Ray tasks.

`decode_video` is the decode stage: ONE sequential pass per video (hash, decode, detect,
sample), the same `decode_pass` a local ingest runs, yielding the sampled frames at CLIP scale
in chunks as they come, then a tail with the cuts, frame times and thumbnail candidates.
`finish_video` puts a tail and its vectors together with the same `assemble` a local ingest
uses, so scenes, frames and thumbnails are made by one rule wherever they run.

Server code is imported inside the functions: the cluster needs the [server] extra, the
driver does not.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from scenesearch.client.ray_ingest.wire import Frame, Scene, Thumb, VideoPayload

Pixels = npt.NDArray[np.uint8]


class VideoFailed(Exception):
    """A video that cannot be ingested (bad media...): the reason is for people, and the
    class is the client's so the driver can read it without the server installed."""


@dataclass(frozen=True, slots=True)
class IngestSpec:
    """How each video is ingested: the IngestParams fields, as plain values."""

    sample_interval_s: float
    detector: str
    threshold: float

    def params(self) -> Any:
        from scenesearch.server.domain import IngestParams

        try:
            return IngestParams(self.sample_interval_s, self.detector, self.threshold)
        except ValueError as exc:
            raise VideoFailed(str(exc)) from None


@dataclass(frozen=True, slots=True)
class FrameChunk:
    """Sampled frames of one video, in decode order: keys[i] = (frame_no, time_s)."""

    keys: tuple[tuple[int, float], ...]
    pixels: tuple[Pixels, ...]


@dataclass(frozen=True, slots=True)
class EmbeddedChunk:
    keys: tuple[tuple[int, float], ...]
    vectors: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class DecodeTail:
    """What the decode pass found besides frames; `decoded` is the server's DecodePass."""

    content_hash: str
    decoded: Any
    hash_s: float


_END = object()


def decode_video(
    path: str, spec: IngestSpec, chunk_frames: int
) -> Iterator[FrameChunk | DecodeTail]:
    """Ray streaming-generator task: FrameChunks of up to `chunk_frames`, then one DecodeTail.

    Decoding runs on a thread that hands frames over a small queue, so when the driver stops
    consuming (Ray's generator backpressure), the queue fills and decoding pauses.
    """
    from scenesearch.server.errors import SceneSearchError
    from scenesearch.server.ingest.jobs import file_sha256
    from scenesearch.server.ingest.pipeline.orchestrator import decode_pass, default_stages

    started = time.perf_counter()
    try:
        digest = file_sha256(Path(path))
    except OSError as exc:
        raise VideoFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    hash_s = time.perf_counter() - started
    params = spec.params()
    stages = default_stages(params, _no_encoder)
    frames: queue.Queue[Any] = queue.Queue(maxsize=2 * chunk_frames)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["pass"] = decode_pass(
                Path(path), params, stages, lambda no, t, rgb: frames.put(((no, t), rgb))
            )
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            frames.put(_END)

    thread = threading.Thread(target=run, name="decode", daemon=True)
    thread.start()
    keys: list[tuple[int, float]] = []
    pixels: list[Pixels] = []
    while (item := frames.get()) is not _END:
        keys.append(item[0])
        pixels.append(item[1])
        if len(keys) >= chunk_frames:
            yield FrameChunk(tuple(keys), tuple(pixels))
            keys, pixels = [], []
    thread.join()
    error = outcome.get("error")
    if isinstance(error, SceneSearchError):
        raise VideoFailed(str(error)) from None
    if error is not None:
        raise error
    if keys:
        yield FrameChunk(tuple(keys), tuple(pixels))
    yield DecodeTail(digest, outcome["pass"], hash_s)


def _no_encoder(images: Sequence[Pixels]) -> npt.NDArray[np.float32]:
    raise RuntimeError("the decode task does not embed; the embed actors do")


def finish_video(path: str, model: str, tail: DecodeTail, *embedded: EmbeddedChunk) -> VideoPayload:
    """Ray task: scenes, frames, scene vectors and thumbnails from a tail and its vectors."""
    from scenesearch.server.ingest.pipeline.orchestrator import assemble

    keys = [key for chunk in embedded for key in chunk.keys]
    vectors = np.concatenate([chunk.vectors for chunk in embedded], axis=0)
    decoded = tail.decoded
    result = assemble(decoded, keys, vectors, {"decode_s": decoded.decode_s, "hash_s": tail.hash_s})
    info = result.info
    return VideoPayload(
        path=path,
        content_hash=tail.content_hash,
        model=model,
        duration_s=info.duration_s,
        fps=info.fps,
        width=info.width,
        height=info.height,
        frame_count=info.frame_count,
        rotation=info.rotation,
        scenes=tuple(
            Scene(s.index, s.start_frame, s.end_frame, s.start_s, s.end_s) for s in result.scenes
        ),
        frames=tuple(Frame(f.frame_no, f.time_s, f.scene_index) for f in result.frames),
        vectors=np.asarray(result.frame_vectors, dtype=np.float32),
        thumbnails=tuple(
            Thumb(t.scene_index, t.time_s, t.jpeg, t.width, t.height) for t in result.thumbnails
        ),
        warnings=result.warnings,
        timings=dict(result.timings),
    )
