"""Encode synthetic videos with known cuts, for tests, benchmarks and the demo.

Each scene is a distinct picture with something moving across it, so cuts are hard and
within-scene frames still change. Options cover variable frame rate, odd sizes, audio tracks
and a display-matrix rotation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

Picture = npt.NDArray[np.uint8]
# (scene index, seconds into the scene) -> RGB frame of the video's size
FrameFn = Callable[[int, float], Picture]


@dataclass(frozen=True, slots=True)
class WrittenVideo:
    path: Path
    scene_starts_s: tuple[float, ...]  # presentation time of each scene's first frame
    scene_start_frames: tuple[int, ...]
    frame_times_s: tuple[float, ...]
    duration_s: float


def scene_palette(index: int, width: int, height: int, seed: int = 0) -> Picture:
    """A blocky random picture, different for every scene index."""
    rng = np.random.default_rng(seed * 1000 + index)
    blocks = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    rows = np.linspace(0, 5.999, height).astype(int)
    cols = np.linspace(0, 7.999, width).astype(int)
    return np.ascontiguousarray(blocks[rows][:, cols])


def moving_square(base: Picture, t: float) -> Picture:
    """Draw a white square that crosses the picture once every four seconds."""
    frame = base.copy()
    h, w = frame.shape[:2]
    side = max(2, min(h, w) // 8)
    x = int((t / 4.0 % 1.0) * max(w - side, 1))
    y = (h - side) // 2
    frame[y : y + side, x : x + side] = 255
    return frame


def blocky_scenes(width: int, height: int, seed: int = 0) -> FrameFn:
    cache: dict[int, Picture] = {}

    def frame(scene: int, t: float) -> Picture:
        if scene not in cache:
            cache[scene] = scene_palette(scene, width, height, seed)
        return moving_square(cache[scene], t)

    return frame


def write_video(
    path: Path,
    scene_seconds: Sequence[float],
    *,
    fps: float = 30.0,
    size: tuple[int, int] = (320, 240),
    frame_fn: FrameFn | None = None,
    vfr: bool = False,
    audio: bool = False,
    rotation: int = 0,
    codec: str = "libx264",
    seed: int = 0,
) -> WrittenVideo:
    """Write a video whose scene k lasts scene_seconds[k]; return its exact cut times.

    With `vfr`, frame durations alternate between 0.5x and 1.5x the nominal period, so only
    presentation timestamps give the right times.
    """
    width, height = size
    draw = frame_fn or blocky_scenes(width, height, seed)
    time_base = Fraction(1, 90000)
    period = 1.0 / fps
    times: list[float] = []
    starts: list[int] = []
    t_global = 0.0
    for scene, seconds in enumerate(scene_seconds):
        starts.append(len(times))
        t_local = 0.0
        k = 0
        while t_local < seconds - 1e-9:
            times.append(t_global)
            step = period * ((0.5 if k % 2 == 0 else 1.5) if vfr else 1.0)
            t_local += step
            t_global += step
            k += 1
        del scene
    scene_of_frame = np.searchsorted(np.asarray(starts), np.arange(len(times)), side="right") - 1

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = width, height
        # 4:2:0 chroma needs even sizes; odd test sizes keep full chroma instead.
        stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "23"}
        if rotation:
            # The display matrix itself: a bare "rotate" metadata tag does not survive muxing.
            stream.set_display_rotation(rotation)
        audio_stream = container.add_stream("aac", rate=48000) if audio else None
        for i, t in enumerate(times):
            scene = int(scene_of_frame[i])
            rgb = draw(scene, t - times[starts[scene]])
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = round(t / time_base)
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio_stream is not None:
            _write_tone(container, audio_stream, t_global)
    return WrittenVideo(
        path=path,
        scene_starts_s=tuple(times[s] for s in starts),
        scene_start_frames=tuple(starts),
        frame_times_s=tuple(times),
        duration_s=t_global,
    )


def _write_tone(
    container: av.container.OutputContainer, stream: av.AudioStream, seconds: float
) -> None:
    rate = 48000
    samples = np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate).astype(np.float32)
    for offset in range(0, len(samples), 1024):
        chunk = samples[offset : offset + 1024]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = offset
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_audio_only(path: Path, seconds: float = 2.0) -> Path:
    with av.open(str(path), mode="w") as container:
        _write_tone(container, container.add_stream("aac", rate=48000), seconds)
    return path


def photo_slideshow(photos: Sequence[Picture], width: int, height: int) -> FrameFn:
    """Slow zoom over each photo (a Ken Burns effect), one photo per scene."""
    from PIL import Image

    fitted = [Image.fromarray(p).convert("RGB") for p in photos]

    def frame(scene: int, t: float) -> Picture:
        img = fitted[scene % len(fitted)]
        zoom = 1.0 + 0.04 * t
        w, h = img.size
        crop_w, crop_h = w / zoom, h / zoom
        left, top = (w - crop_w) / 2, (h - crop_h) / 2
        box = (left, top, left + crop_w, top + crop_h)
        return np.asarray(img.resize((width, height), Image.Resampling.BILINEAR, box=box))

    return frame
