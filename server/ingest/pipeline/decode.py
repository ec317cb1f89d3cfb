"""Decode stage: one sequential PyAV pass, yielding frames with presentation times.

Every frame gets a small BGR picture for scene detection, made from zero-copy views of its
YUV planes (the expensive full-size YUV→RGB conversion is skipped). Only frames that are
sampled for CLIP are converted to RGB, at CLIP's input scale (short side 224), by swscale.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from scenesearch.server.errors import UnsupportedMedia

log = logging.getLogger(__name__)

SHORT_SIDE = 224
DETECT_WIDTH = 256  # PySceneDetect's own default working width
PLANAR_420 = {"yuv420p", "yuvj420p"}


@dataclass(frozen=True, slots=True)
class StreamInfo:
    width: int
    height: int
    average_fps: float
    estimated_frames: int
    rotation: int


class DecodedFrame:
    """One decoded frame: its index, time, detection picture, and RGB on demand."""

    __slots__ = ("_frame", "_rgb", "_rotation", "_size", "detect_bgr", "index", "time_s")

    def __init__(
        self,
        index: int,
        time_s: float,
        frame: av.VideoFrame,
        detect_bgr: npt.NDArray[np.uint8],
        clip_size: tuple[int, int],
        rotation: int,
    ) -> None:
        self.index, self.time_s, self.detect_bgr = index, time_s, detect_bgr
        self._frame, self._size, self._rotation = frame, clip_size, rotation
        self._rgb: npt.NDArray[np.uint8] | None = None

    @property
    def rgb(self) -> npt.NDArray[np.uint8]:
        """Upright RGB at CLIP's input scale; converted once, on first use."""
        if self._rgb is None:
            rgb = self._frame.to_ndarray(
                width=self._size[0], height=self._size[1], format="rgb24", interpolation="AREA"
            )
            self._rgb = rotate_upright(rgb, self._rotation)
        return self._rgb

    def upright_rgb(self, width: int) -> npt.NDArray[np.uint8]:
        """Upright RGB `width` displayed pixels wide (never upscaled), e.g. for a thumbnail."""
        return upright_at_width(self._frame, self._rotation, width)


def upright_at_width(frame: av.VideoFrame, rotation: int, width: int) -> npt.NDArray[np.uint8]:
    turned = round(rotation / 90) % 2 == 1
    shown_w, shown_h = (frame.height, frame.width) if turned else (frame.width, frame.height)
    if shown_w > width:
        shown_w, shown_h = width, max(1, round(shown_h * width / shown_w))
    coded_w, coded_h = (shown_h, shown_w) if turned else (shown_w, shown_h)
    rgb = frame.to_ndarray(width=coded_w, height=coded_h, format="rgb24", interpolation="AREA")
    return rotate_upright(rgb, rotation)


def _plane(plane: av.video.plane.VideoPlane) -> npt.NDArray[np.uint8]:
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def detection_picture(frame: av.VideoFrame, size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """A small BGR picture for scene detection (colour accuracy does not matter here)."""
    if frame.format.name in PLANAR_420:
        y, u, v = (
            cv2.resize(_plane(p), size, interpolation=cv2.INTER_LINEAR) for p in frame.planes
        )
        return np.asarray(cv2.cvtColor(cv2.merge([y, u, v]), cv2.COLOR_YUV2BGR), dtype=np.uint8)
    return frame.to_ndarray(width=size[0], height=size[1], format="bgr24")


def scaled_size(width: int, height: int, short_side: int = SHORT_SIDE) -> tuple[int, int]:
    """Size with the short side at `short_side`, never upscaling, aspect ratio kept."""
    short = min(width, height)
    if short <= short_side:
        return width, height
    scale = short_side / short
    return max(1, round(width * scale)), max(1, round(height * scale))


def scaled_width(width: int, height: int, target: int) -> tuple[int, int]:
    if width <= target:
        return width, height
    return target, max(1, round(height * target / width))


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
        # Problems worth telling the user about that did not stop the ingest.
        self.warnings: list[str] = []
        self._declared_s = 0.0

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
        if stream.duration and stream.time_base:
            self._declared_s = float(stream.duration * stream.time_base)
        elif container.duration:
            self._declared_s = container.duration / av.time_base
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
        clip_size = detect_size = (0, 0)
        index = 0
        try:
            for frame in container.decode(stream):
                if frame.pts is not None and time_base:
                    if first_pts is None:
                        first_pts = frame.pts
                    time_s = (frame.pts - first_pts) * time_base
                else:
                    time_s = index / fallback_fps
                if index == 0:
                    clip_size = scaled_size(frame.width, frame.height, self.short_side)
                    detect_size = scaled_width(frame.width, frame.height, DETECT_WIDTH)
                rotation = int(getattr(frame, "rotation", 0) or 0)
                yield DecodedFrame(
                    index, time_s, frame, detection_picture(frame, detect_size), clip_size, rotation
                )
                index += 1
        except av.error.FFmpegError as exc:
            # A damaged tail is common (truncated downloads): keep what decoded cleanly.
            if index == 0:
                raise UnsupportedMedia(
                    f"{self.path.name} has a video stream but no decodable frames ({exc}); "
                    "the file is probably damaged or truncated"
                ) from exc
            log.warning("%s: decoding stopped after %d frames: %s", self.path, index, exc)
            self.warnings.append(
                f"the file is damaged: decoding stopped after {index} frames "
                f"({time_s:.3f}s) and only that part was indexed"
            )
        if index == 0:
            raise UnsupportedMedia(
                f"{self.path.name} has a video stream but no decodable frames; "
                "the file is probably damaged or truncated"
            )
        if not self.warnings and self._declared_s > 1.0 and time_s < 0.9 * self._declared_s - 1.0:
            self.warnings.append(
                f"the file looks truncated: it declares {self._declared_s:.1f}s but frames "
                f"stop at {time_s:.1f}s; only that part was indexed"
            )

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
