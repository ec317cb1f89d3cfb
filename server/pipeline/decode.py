"""Decode stage: one sequential PyAV pass, yielding small RGB frames with presentation times.

Every frame is scaled once, by FFmpeg's swscale, to CLIP's input scale (short side 224). The
same small frame feeds scene detection and, when sampled, the image encoder, so no full-size
RGB frame is ever built in Python.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from scenesearch.server.errors import UnsupportedMedia

log = logging.getLogger(__name__)

SHORT_SIDE = 224


@dataclass(frozen=True, slots=True)
class StreamInfo:
    width: int
    height: int
    average_fps: float
    estimated_frames: int
    rotation: int


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    index: int
    time_s: float
    rgb: npt.NDArray[np.uint8]  # (h, w, 3), short side SHORT_SIDE (or smaller if the video is)


def scaled_size(width: int, height: int, short_side: int = SHORT_SIDE) -> tuple[int, int]:
    """Size with the short side at `short_side`, never upscaling, aspect ratio kept."""
    short = min(width, height)
    if short <= short_side:
        return width, height
    scale = short_side / short
    return max(1, round(width * scale)), max(1, round(height * scale))


def rotate_upright(rgb: npt.NDArray[np.uint8], rotation: int) -> npt.NDArray[np.uint8]:
    """Apply a display-matrix rotation (degrees counter-clockwise, multiples of 90)."""
    quarter_turns = round(rotation / 90) % 4
    if quarter_turns == 0:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, k=quarter_turns))


class VideoDecoder:
    """Iterate a file's video frames once, in presentation order."""

    def __init__(self, path: Path, short_side: int = SHORT_SIDE) -> None:
        self.path = path
        self.short_side = short_side
        self._container: av.container.InputContainer | None = None

    def open(self) -> StreamInfo:
        try:
            container = av.open(str(self.path), mode="r")
        except av.error.FFmpegError as exc:
            raise UnsupportedMedia(
                f"{self.path.name} is not a readable media file ({exc.strerror or exc}); "
                "check that it is a complete video in a common container (MP4, MKV, WebM, MOV)"
            ) from exc
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["nothing"]
            container.close()
            raise UnsupportedMedia(
                f"{self.path.name} has no video stream (it contains {', '.join(kinds)}); "
                "scenesearch indexes video only"
            )
        self._container = container
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        frames = int(stream.frames or 0)
        if frames <= 0 and stream.duration and stream.time_base:
            frames = int(float(stream.duration * stream.time_base) * fps)
        if frames <= 0 and container.duration:
            frames = int(container.duration / av.time_base * fps)
        return StreamInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            average_fps=fps,
            estimated_frames=max(frames, 0),
            rotation=0,
        )

    def frames(self) -> Iterator[DecodedFrame]:
        if self._container is None:
            raise RuntimeError("open() first")
        container = self._container
        stream = container.streams.video[0]
        time_base = float(stream.time_base) if stream.time_base else 0.0
        fallback_fps = float(stream.average_rate or 30)
        first_pts: int | None = None
        size: tuple[int, int] | None = None
        index = 0
        try:
            for frame in container.decode(stream):
                if frame.pts is not None and time_base:
                    if first_pts is None:
                        first_pts = frame.pts
                    time_s = (frame.pts - first_pts) * time_base
                else:
                    time_s = index / fallback_fps
                if size is None:
                    size = scaled_size(frame.width, frame.height, self.short_side)
                rgb = frame.to_ndarray(
                    width=size[0], height=size[1], format="rgb24", interpolation="AREA"
                )
                rotation = int(getattr(frame, "rotation", 0) or 0)
                yield DecodedFrame(index, time_s, rotate_upright(rgb, rotation))
                index += 1
        except av.error.FFmpegError as exc:
            # A damaged tail is common (truncated downloads): keep what decoded cleanly.
            if index == 0:
                raise UnsupportedMedia(
                    f"{self.path.name} has a video stream but no decodable frames ({exc}); "
                    "the file is probably damaged or truncated"
                ) from exc
            log.warning("%s: decoding stopped after %d frames: %s", self.path, index, exc)
        if index == 0:
            raise UnsupportedMedia(
                f"{self.path.name} has a video stream but no decodable frames; "
                "the file is probably damaged or truncated"
            )

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
