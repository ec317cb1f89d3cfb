"""Decode stage: one sequential PyAV pass, yielding frames with presentation times.

Each frame gets the picture scene detection sees (pictures.py: exactly PySceneDetect's).
Damaged packets are skipped within an error budget, not fatal, and the skipped time ranges
are reported. Frames sampled for CLIP become RGB on demand.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av

from scenesearch.server.errors import UnsupportedMedia
from scenesearch.server.ingest.pipeline.pictures import (
    DetectionPictures,
    Picture,
    rotate_upright,
    upright_at_width,
)

log = logging.getLogger(__name__)

SHORT_SIDE = 224
Timed = tuple[av.VideoFrame, float]
# Error budget: a damaged stretch is skipped however long, as long as good frames come back
# (a share-of-packets cap would throw away a good second half). We stop only after reading on
# for long with nothing decodable, i.e. garbage to the end of a long file.
MAX_BAD_SPAN_S = 60.0  # stream seconds of failing packets since the last good frame
MAX_FAILED_RUN = 1500  # consecutive failing packets, for streams without timestamps


@dataclass(frozen=True, slots=True)
class StreamInfo:
    width: int  # as displayed, i.e. after `rotation`
    height: int
    average_fps: float
    estimated_frames: int
    rotation: int  # display matrix: 0, 90, 180 or 270 degrees counter-clockwise


class DecodedFrame:
    """One decoded frame: its index, time, detection picture, and RGB on demand."""

    __slots__ = ("_frame", "_rgb", "_rotation", "_size", "detect_bgr", "index", "time_s")

    def __init__(
        self,
        index: int,
        time_s: float,
        frame: av.VideoFrame,
        detect_bgr: Picture,
        clip_size: tuple[int, int],
        rotation: int,
    ) -> None:
        self.index, self.time_s, self.detect_bgr = index, time_s, detect_bgr
        self._frame, self._size, self._rotation = frame, clip_size, rotation
        self._rgb: Picture | None = None

    @property
    def rgb(self) -> Picture:
        """Upright RGB at CLIP's input scale; converted once, on first use."""
        if self._rgb is None:
            rgb = self._frame.to_ndarray(
                width=self._size[0], height=self._size[1], format="rgb24", interpolation="AREA"
            )
            self._rgb = rotate_upright(rgb, self._rotation)
        return self._rgb

    def upright_rgb(self, width: int) -> Picture:
        """Upright RGB `width` displayed pixels wide (never upscaled), e.g. for a thumbnail."""
        return upright_at_width(self._frame, self._rotation, width)


def scaled_size(width: int, height: int, short_side: int = SHORT_SIDE) -> tuple[int, int]:
    """Size with the short side at `short_side`, never upscaling, aspect ratio kept."""
    short = min(width, height)
    if short <= short_side:
        return width, height
    scale = short_side / short
    return max(1, round(width * scale)), max(1, round(height * scale))


class VideoDecoder:
    """Iterate a file's video frames once, in presentation order, skipping damaged packets."""

    def __init__(self, path: Path, short_side: int = SHORT_SIDE) -> None:
        self.path = path
        self.short_side = short_side
        self._container: av.container.InputContainer | None = None
        self._decoded: Iterator[Timed] = iter(())
        # Problems worth telling the user about that did not stop the ingest.
        self.warnings: list[str] = []
        self.damaged: list[tuple[float, float]] = []  # skipped (from, to) in seconds
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
        # PyAV (18) reads the display matrix into frames, not streams: peek at the first.
        decoded = self._decode(container, stream, fps or 30.0)
        first = next(decoded, None)
        self._decoded = itertools.chain([first] if first else [], decoded)
        rotation = round((first[0].rotation if first else 0) / 90) % 4 * 90
        width, height = stream.codec_context.width, stream.codec_context.height
        return StreamInfo(
            width=height if rotation % 180 else width,
            height=width if rotation % 180 else height,
            average_fps=fps,
            estimated_frames=max(frames, 0),
            rotation=rotation,
        )

    def _decode(
        self, container: av.container.InputContainer, stream: av.VideoStream, fps: float
    ) -> Iterator[Timed]:
        """(frame, seconds), packet by packet: a packet that fails to decode, or a frame the
        decoder marks corrupt (concealed garbage would fake cuts), is skipped and recorded."""
        base = float(stream.time_base or 0)
        origin: int | None = None  # pts of time 0: the first frame's, as before
        failed = run = 0
        last, lost = -1.0 / fps, False  # last good time; whether frames were lost since

        def good(frames: list[av.VideoFrame]) -> Iterator[Timed]:
            nonlocal origin, last, lost
            for frame in frames:
                lost = lost or frame.is_corrupt
                if frame.is_corrupt:
                    continue
                if frame.pts is not None and base:
                    origin = frame.pts if origin is None else origin
                    time_s = (frame.pts - origin) * base
                else:
                    time_s = last + 1.0 / fps
                if lost:
                    self.damaged.append((max(last + 1.0 / fps, 0.0), time_s))
                last, lost = time_s, False
                yield frame, time_s

        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    failed, run, lost = failed + 1, run + 1, True
                    if origin is None and packet.pts is not None:
                        origin = packet.pts  # a lost start still counts from the real start
                    span = (packet.pts - origin) * base - last if packet.pts is not None else 0
                    if run >= MAX_FAILED_RUN or span > MAX_BAD_SPAN_S:
                        self.warnings.append(
                            f"the file is damaged from about {max(last, 0.0):.1f}s on (nothing "
                            f"decodable for {span:.0f}s, {failed} packets unreadable); "
                            "only the part before that was indexed"
                        )
                        return
                    continue
                run = 0
                yield from good(frames)
        except av.error.FFmpegError as exc:  # the container is unreadable from here on
            log.warning("%s: demuxing stopped: %s", self.path, exc)
            self.warnings.append(
                f"the file is damaged: decoding stopped at {max(last, 0.0):.3f}s "
                "and only that part was indexed"
            )
        with contextlib.suppress(av.error.FFmpegError):  # frames still in the frame threads
            yield from good(stream.codec_context.decode(None))  # (a no-op after a clean end)
        if lost:
            self.damaged.append((max(last + 1.0 / fps, 0.0), max(self._declared_s, last)))

    def frames(self) -> Iterator[DecodedFrame]:
        if self._container is None:
            raise RuntimeError("open() first")
        pictures, clip_size = DetectionPictures(), (0, 0)
        index, time_s = 0, 0.0
        for frame, time_s in self._decoded:
            if index == 0:
                clip_size = scaled_size(frame.width, frame.height, self.short_side)
            rotation = round(frame.rotation / 90) % 4 * 90
            picture = pictures(frame, rotation)
            yield DecodedFrame(index, time_s, frame, picture, clip_size, rotation)
            index += 1
        if index == 0:
            raise UnsupportedMedia(
                f"{self.path.name} has a video stream but no decodable frames; "
                "the file is probably damaged or truncated"
            )
        if self.damaged:
            spans = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in self.damaged[:5])
            more = f" and {len(self.damaged) - 5} more stretches" if len(self.damaged) > 5 else ""
            log.warning("%s: damaged, skipped %s%s", self.path, spans, more)
            self.warnings.append(f"the file is damaged: {spans}{more} skipped")
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
