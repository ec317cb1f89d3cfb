"""A finished video as ImportVideo messages: a header, then chunks under the message limit.

Pure (numpy and the generated messages): the finish task builds them on the cluster, the
driver only sends them, so the driver needs neither the server nor torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from scenesearch.v1 import scenesearch_pb2 as pb

# Payload bytes per chunk message: well under the 16 MiB gRPC message limit both ends set.
CHUNK_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Scene:
    index: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Frame:
    frame_no: int
    time_s: float
    scene_index: int


@dataclass(frozen=True, slots=True)
class Thumb:
    scene_index: int
    time_s: float
    jpeg: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class VideoPayload:
    """Everything the server needs to commit one video, in plain values."""

    path: str
    content_hash: str
    model: str
    duration_s: float
    fps: float
    width: int
    height: int
    frame_count: int
    rotation: int
    scenes: tuple[Scene, ...]
    frames: tuple[Frame, ...]
    vectors: npt.NDArray[np.float32]  # (len(frames), dim), L2-normalised
    thumbnails: tuple[Thumb, ...] = ()
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])


def import_messages(
    video: VideoPayload, chunk_bytes: int = CHUNK_BYTES
) -> list[pb.ImportVideoRequest]:
    """The header, then chunks of scenes, frames and thumbnails of about `chunk_bytes`."""
    header = pb.ImportHeader(
        path=video.path,
        content_hash=video.content_hash,
        model=video.model,
        dimension=video.dimension,
        duration_s=video.duration_s,
        fps=video.fps,
        width=video.width,
        height=video.height,
        frame_count=video.frame_count,
        rotation=video.rotation,
        scene_count=len(video.scenes),
        sample_count=len(video.frames),
        warnings=video.warnings,
    )
    messages = [pb.ImportVideoRequest(header=header)]
    chunk, size = pb.ImportChunk(), 0

    def flush() -> None:
        nonlocal chunk, size
        if size:
            messages.append(pb.ImportVideoRequest(chunk=chunk))
        chunk, size = pb.ImportChunk(), 0

    for s in video.scenes:
        if size >= chunk_bytes:
            flush()
        chunk.scenes.append(pb.ImportedScene(**_fields(s)))
        size += 40
    vectors = np.ascontiguousarray(video.vectors, dtype="<f4")
    for f, row in zip(video.frames, vectors, strict=True):
        if size >= chunk_bytes:
            flush()
        chunk.frames.append(pb.ImportedFrame(**_fields(f), vector=row.tobytes()))
        size += row.nbytes + 24
    for t in video.thumbnails:
        if size + len(t.jpeg) >= chunk_bytes:
            flush()
        chunk.thumbnails.append(pb.ImportedThumbnail(**_fields(t)))
        size += len(t.jpeg) + 24
    flush()
    return messages


def _fields(value: Scene | Frame | Thumb) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in fields(value)}


def payload_size(messages: Sequence[pb.ImportVideoRequest]) -> int:
    return sum(m.ByteSize() for m in messages)
