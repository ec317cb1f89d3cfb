"""Pictures made from decoded frames: upright rotation, and the picture scene detection sees.

Detection sees exactly the picture PySceneDetect builds: cv2.VideoCapture's swscale BGR24
(which honours range and matrix tags), turned upright, cv2.resize(INTER_LINEAR) to
SceneManager's auto-downscale size, so cuts equal `scenedetect.detect` frame for frame. For
8-bit planar YUV at HD sizes only the pixels cv2.resize reads are converted: `_Subsample` where
the scale is an odd whole number (720p, 2160p: one pixel read per output pixel, no resize at
all), `_Compact` otherwise; either is checked against the full conversion at the start and
every CHECK_EVERY frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from math import gcd

import av
import cv2
import numpy as np
import numpy.typing as npt
from av.video.reformatter import VideoReformatter
from scenedetect.scene_manager import compute_downscale_factor

log = logging.getLogger(__name__)

Picture = npt.NDArray[np.uint8]
# `_Compact` formats: the compact frame's format and the chroma subsampling (across, down).
# 4:2:0 goes compact as 4:2:2 so rows need no pairing: swscale converts both per pixel alike.
COMPACT = {
    "yuv420p": ("yuv422p", 2, 2),
    "yuvj420p": ("yuvj422p", 2, 2),
    "yuv422p": ("yuv422p", 2, 1),
    "yuvj422p": ("yuvj422p", 2, 1),
    "yuv444p": ("yuv444p", 1, 1),
    "yuvj444p": ("yuvj444p", 1, 1),
}
CHECK_EVERY = 1024  # frames between checks of `_Compact` against the full conversion


def rotate_upright(rgb: Picture, rotation: int) -> Picture:
    """Apply a display-matrix rotation (degrees counter-clockwise, multiples of 90)."""
    quarter_turns = round(rotation / 90) % 4
    if quarter_turns == 0:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, k=quarter_turns))


def upright_at_width(frame: av.VideoFrame, rotation: int, width: int) -> Picture:
    turned = round(rotation / 90) % 2 == 1
    shown_w, shown_h = (frame.height, frame.width) if turned else (frame.width, frame.height)
    if shown_w > width:
        shown_w, shown_h = width, max(1, round(shown_h * width / shown_w))
    coded_w, coded_h = (shown_h, shown_w) if turned else (shown_w, shown_h)
    rgb = frame.to_ndarray(width=coded_w, height=coded_h, format="rgb24", interpolation="AREA")
    return rotate_upright(rgb, rotation)


def detection_size(width: int, height: int) -> tuple[int, int]:
    """What SceneManager (auto_downscale) resizes a displayed frame to before detection."""
    factor = compute_downscale_factor(max(width, height))
    if factor <= 1.0:
        return width, height
    return max(1, round(width / factor)), max(1, round(height / factor))


def detection_picture(
    frame: av.VideoFrame, rotation: int = 0, reformatter: VideoReformatter | None = None
) -> Picture:
    """PySceneDetect's picture of `frame`, from a full-size conversion; any pixel format.
    BICUBIC flags as OpenCV's: they matter for formats swscale has to filter (10-bit)."""
    bgr = (reformatter or VideoReformatter()).reformat(
        frame, format="bgr24", interpolation="BICUBIC", threads=1
    )
    upright = rotate_upright(bgr.to_ndarray(), rotation)
    size = detection_size(upright.shape[1], upright.shape[0])
    if size == (upright.shape[1], upright.shape[0]):
        return upright
    return np.asarray(cv2.resize(upright, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


def _rows(plane: av.video.plane.VideoPlane) -> Picture:
    """A plane's rows, padding included, so they can be viewed as wider elements."""
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)


def _distinct(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sorted distinct values of non-negative integers. Not np.unique: its first call imports
    numpy.ma, some 50M instructions, more than a short clip's whole detection costs."""
    return np.flatnonzero(np.bincount(values))


def _source_x(n: int, out: int) -> npt.NDArray[np.float32]:
    """Where cv2.resize (INTER_LINEAR) samples `n` pixels for each of `out`, as it computes it."""
    return ((np.arange(out) + 0.5) * (1.0 / (out / n)) - 0.5).astype(np.float32)


def _geometry(frame: av.VideoFrame, rotation: int) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """Quarter turns to upright, displayed (width, height), and the detection size."""
    turns = round(rotation / 90) % 4
    shown = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
    return turns, shown, detection_size(*shown)


def _run(start: int, count: int, step: int) -> slice:
    stop = start + count * step
    return slice(start, stop if stop >= 0 else None, step)


@dataclass(frozen=True, slots=True)
class _Axis:
    """One coded axis of the compact frame: what is gathered into it and where pixels return."""

    order: npt.NDArray[np.int64]  # coded index of each compact position
    blocks: list[tuple[slice, slice]]  # (coded, compact) runs, in whole chroma blocks
    scatter: list[tuple[slice, slice]]  # (displayed, compact) runs of the pixels it reads


def _axis(n: int, out: int, sub: int, flip: bool) -> _Axis | None:
    """Plan `n` coded pixels resized to `out` (None: irregular, use the full conversion)."""
    x = _source_x(n, out)
    left = np.floor(x).astype(np.int64)
    taps = _distinct(np.r_[left, left[x > left] + 1])  # a zero-weight neighbour is not read
    taps = np.sort(n - 1 - taps) if flip else taps
    period = n // gcd(n, out) * (1 if n // gcd(n, out) % sub == 0 else sub)
    blocks = _distinct(taps // sub) * sub  # whole chroma blocks: each pixel keeps its chroma
    residues = _distinct(blocks % period)
    if blocks[-1] + sub > n or len(residues) > 8:
        return None
    tapped = np.zeros(n + sub, bool)
    tapped[taps] = True  # a lookup, not np.isin (a table of its own on every call)
    order, runs, scatter, pos = [], [], [], 0
    for r in residues:
        starts = blocks[blocks % period == r]
        k, b = len(starts), int(starts[0])
        if np.any(np.diff(starts) != period):
            return None
        runs.append((_run(b // sub, k, period // sub), _run(pos // sub, k, 1)))
        for e in range(sub):
            read = tapped[starts + e]
            if read.any() and not read.all():
                return None
            if read.all():
                at = n - 1 - (b + e) if flip else b + e
                scatter.append((_run(at, k, -period if flip else period), _run(pos + e, k, sub)))
        order.append((starts[:, None] + np.arange(sub)).ravel())
        pos += k * sub
    return _Axis(np.concatenate(order), runs, scatter)


class _Compact:
    """`detection_picture`, bit for bit, converting only the pixels cv2.resize reads.

    swscale's YUV->BGR is per pixel (nearest chroma) and INTER_LINEAR reads two pixels per
    output pixel and axis: those, with their chroma blocks, make a small frame to convert,
    whose pixels go back to their places in a canvas that is then resized as usual.
    """

    @classmethod
    def plan(cls, frame: av.VideoFrame, rotation: int) -> _Compact | None:
        fmt, across, _ = COMPACT.get(frame.format.name, ("", 0, 0))
        turns, shown, size = _geometry(frame, rotation)
        w, h = frame.width, frame.height
        along_w, along_h = (size[1], size[0]) if turns % 2 else size
        rows = _axis(h, along_h, 1, turns in (2, 3)) if fmt and size != shown else None
        cols = _axis(w, along_w, across, turns in (1, 2)) if rows else None
        if rows is None or cols is None or len(rows.order) * len(cols.order) > 0.35 * w * h:
            return None  # irregular or barely smaller: the full conversion is as cheap
        return cls(frame, rows, cols, turns, size, shown)

    def __init__(
        self,
        frame: av.VideoFrame,
        rows: _Axis,
        cols: _Axis,
        turns: int,
        size: tuple[int, int],
        shown: tuple[int, int],
    ) -> None:
        self.rows, self.cols, self.turns, self.size = rows, cols, turns, size
        fmt, across, down = COMPACT[frame.format.name]
        self.compact = av.VideoFrame(len(cols.order), len(rows.order), fmt)
        self.chroma_rows = rows.order // down
        self.block = np.uint16 if across == 2 else np.uint8  # a luma element per chroma block
        # BGRA, so a pixel moves as one uint32; dropping alpha after the resize leaves the
        # colour channels as a 3-channel resize makes them.
        self.canvas = np.zeros(shown[::-1], np.uint32)
        self.reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> Picture:
        y, u, v = (_rows(p) for p in frame.planes)
        cy, cu, cv = (_rows(p) for p in self.compact.planes)
        ys, cy = y[self.rows.order].view(self.block), cy.view(self.block)
        us, vs = u[self.chroma_rows], v[self.chroma_rows]
        for coded, at in self.cols.blocks:
            cy[:, at], cu[:, at], cv[:, at] = ys[:, coded], us[:, coded], vs[:, coded]
        self.compact.colorspace, self.compact.color_range = frame.colorspace, frame.color_range
        bgra = self.reformatter.reformat(self.compact, format="bgra", threads=1)
        done = _rows(bgra.planes[0]).view(np.uint32)
        # Displayed rows are coded rows, or coded columns when turned a quarter.
        down, across = (self.cols, self.rows) if self.turns % 2 else (self.rows, self.cols)
        done = done.T if self.turns % 2 else done
        for shown_rows, rows in down.scatter:  # runs of slices: strided copies, no index arrays
            for shown, at in across.scatter:
                self.canvas[shown_rows, shown] = done[rows, at]
        canvas = self.canvas.view(np.uint8).reshape(*self.canvas.shape, 4)
        small = cv2.resize(canvas, self.size, interpolation=cv2.INTER_LINEAR)
        return np.asarray(cv2.cvtColor(small, cv2.COLOR_BGRA2BGR), dtype=np.uint8)


def _single_taps(n: int, out: int) -> npt.NDArray[np.int64] | None:
    """The one pixel cv2.resize reads for each output pixel, where every sample falls exactly
    on a pixel (an odd whole-number scale: the neighbour's weight is 0); otherwise None."""
    x = _source_x(n, out)
    left = np.floor(x)
    return left.astype(np.int64) if np.array_equal(x, left) else None


class _Subsample:
    """`detection_picture`, bit for bit, where cv2.resize reads one pixel per output pixel on
    both axes (weights 1 and 0): it then returns exactly those pixels, so they alone are
    converted and are the picture, with no canvas and no resize.

    Each pixel goes into a chroma block of its own (its luma first, the block's second pixel
    left constant) with its own chroma: swscale converts each pixel from its luma and its
    block's chroma alone, as in the full conversion.
    """

    @classmethod
    def plan(cls, frame: av.VideoFrame, rotation: int) -> _Subsample | None:
        fmt, _, _ = COMPACT.get(frame.format.name, ("", 0, 0))
        turns, shown, size = _geometry(frame, rotation)
        w, h = frame.width, frame.height
        if not fmt or size == shown:
            return None
        down, across = _single_taps(shown[1], size[1]), _single_taps(shown[0], size[0])
        if down is None or across is None:
            return None
        # Coded (row, column) of displayed (down, across), as np.rot90 turns them.
        rows, cols = {
            0: (down, across),
            1: (across, w - 1 - down),
            2: (h - 1 - down, w - 1 - across),
            3: (h - 1 - across, down),
        }[turns]
        return cls(frame, rows, cols, turns % 2 == 1)

    def __init__(
        self,
        frame: av.VideoFrame,
        rows: npt.NDArray[np.int64],
        cols: npt.NDArray[np.int64],
        transposed: bool,
    ) -> None:
        fmt, across, down = COMPACT[frame.format.name]
        self.rows, self.cols, self.transposed = rows, cols, transposed
        self.chroma_rows, self.chroma_cols = rows // down, cols // across
        self.luma = slice(0, across * len(cols), across)  # compact columns holding our pixels
        self.compact = av.VideoFrame(across * len(cols), len(rows), fmt)
        _rows(self.compact.planes[0]).fill(0x80)  # the unused second pixels: constant
        self.reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> Picture:
        y, u, v = (_rows(p) for p in frame.planes)
        cy, cu, cv = (_rows(p) for p in self.compact.planes)
        n = len(self.cols)
        cy[:, self.luma] = y[self.rows][:, self.cols]
        cu[:, :n] = u[self.chroma_rows][:, self.chroma_cols]
        cv[:, :n] = v[self.chroma_rows][:, self.chroma_cols]
        self.compact.colorspace, self.compact.color_range = frame.colorspace, frame.color_range
        bgra = self.reformatter.reformat(self.compact, format="bgra", threads=1)
        done = _rows(bgra.planes[0]).view(np.uint32)[:, self.luma]
        done = np.ascontiguousarray(done.T if self.transposed else done)
        picture = cv2.cvtColor(done.view(np.uint8).reshape(*done.shape, 4), cv2.COLOR_BGRA2BGR)
        return np.asarray(picture, dtype=np.uint8)


class DetectionPictures:
    """A stream's detection pictures: `_Subsample` or `_Compact` where one applies, checked
    against the full conversion on the first frame and every CHECK_EVERY frames (any mismatch:
    full conversions only)."""

    def __init__(self) -> None:
        self._key: tuple[int, int, str, int] | None = None
        self._compact: _Subsample | _Compact | None = None
        self._count = 0
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame, rotation: int) -> Picture:
        key = (frame.width, frame.height, frame.format.name, rotation)
        if key != self._key:
            fast = _Subsample.plan(frame, rotation) or _Compact.plan(frame, rotation)
            self._key, self._count, self._compact = key, 0, fast
        self._count += 1
        if self._compact is not None and (self._count - 1) % CHECK_EVERY:
            return self._compact(frame)
        exact = detection_picture(frame, rotation, self._reformatter)
        if self._compact is not None:
            if isinstance(self._compact, _Compact):
                self._compact.canvas.fill(0x5A3C96E1)  # a read of an unconverted pixel shows
            if not np.array_equal(self._compact(frame), exact):
                log.warning("compact detection picture differs; using full conversions")
                self._compact = None
        return exact
