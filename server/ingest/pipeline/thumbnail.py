"""Thumbnail stage: one small upright JPEG per scene, chosen from the frames already sampled.

The rule: a scene's thumbnail is its sampled frame whose vector is nearest the scene vector
(the frame that best stands for the scene's average content), so it costs no extra decode.
Every sampled frame is encoded as it passes (a few KB, well under a millisecond at this size)
and all but the chosen ones are dropped once the scene vectors are known.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from scenesearch.server.domain import SampledFrame, SceneThumbnail, Vectors

THUMBNAIL_WIDTH = 320
JPEG_QUALITY = 80


def encode_thumbnail(
    rgb: npt.NDArray[np.uint8], width: int = THUMBNAIL_WIDTH
) -> tuple[bytes, int, int]:
    """JPEG bytes, width and height of an upright RGB picture scaled to `width` (never up)."""
    height, current = rgb.shape[:2]
    if current > width:
        height = max(1, round(height * width / current))
        rgb = np.asarray(
            cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes(), int(rgb.shape[1]), int(rgb.shape[0])


class ThumbnailCandidates:
    """The encoded candidates of one ingest, keyed like the embedder's samples."""

    def __init__(self) -> None:
        self._encoded: dict[tuple[int, float], tuple[bytes, int, int]] = {}

    def offer(self, frame_no: int, time_s: float, rgb: npt.NDArray[np.uint8]) -> None:
        self._encoded[(frame_no, time_s)] = encode_thumbnail(rgb)

    def choose(
        self, frames: Sequence[SampledFrame], frame_vectors: Vectors, scene_vectors: Vectors
    ) -> tuple[SceneThumbnail, ...]:
        rows = best_frame_per_scene(frames, frame_vectors, scene_vectors)
        chosen = []
        for scene_index, row in enumerate(rows):
            frame = frames[row]
            jpeg, width, height = self._encoded[(frame.frame_no, frame.time_s)]
            chosen.append(SceneThumbnail(scene_index, frame.time_s, jpeg, width, height))
        return tuple(chosen)


def best_frame_per_scene(
    frames: Sequence[SampledFrame], frame_vectors: Vectors, scene_vectors: Vectors
) -> list[int]:
    """For each scene, the row of its frame nearest the scene vector. A scene without a
    sampled frame of its own (see sample.scene_vectors) takes the nearest frame overall."""
    sims = frame_vectors @ scene_vectors.T  # (frames, scenes)
    scene_of = np.array([f.scene_index for f in frames])
    rows = []
    for scene in range(len(scene_vectors)):
        own = np.flatnonzero(scene_of == scene)
        pool = own if len(own) else np.arange(len(frames))
        rows.append(int(pool[np.argmax(sims[pool, scene])]))
    return rows
