"""The fast detection pictures equal the full conversion (`detection_picture`) bit for bit.

Frames are random noise, so every pixel and every chroma sample shows in the picture, in each
8-bit planar format, range and matrix, at sizes whose scale to SceneManager's width is an odd
whole number (the pure subsample) and not (the compact canvas), in all four rotations.
"""

from __future__ import annotations

import sys

import av
import numpy as np
import pytest

from scenesearch.server.ingest.pipeline import pictures
from scenesearch.server.ingest.pipeline.pictures import DetectionPictures, detection_picture


def _frame(width: int, height: int, fmt: str, seed: int, bt709: bool, full: bool) -> av.VideoFrame:
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format=fmt, dst_colorspace="ITU709" if bt709 else "ITU601", dst_color_range=2 if full else 1
    )
    frame.colorspace, frame.color_range = (1 if bt709 else 5), (2 if full else 1)
    return frame


# (width, height): 1280x720 and 768x432 scale by 5 and 3 (one pixel read per output pixel),
# 1920x1080 by 7.5 (two: the compact canvas), 1792x1008 by 7 with 4:2:2 and 4:4:4 chroma.
CASES = [
    (1280, 720, "yuv420p", False, False),
    (1280, 720, "yuvj420p", False, True),
    (768, 432, "yuv420p", True, False),
    (1792, 1008, "yuv422p", False, False),
    (1792, 1008, "yuv444p", True, True),
    (720, 1280, "yuv420p", False, False),
    (1920, 1080, "yuv420p", False, False),
    (1920, 1080, "yuv444p", True, True),
]


@pytest.mark.parametrize(("width", "height", "fmt", "bt709", "full"), CASES)
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_fast_pictures_equal_the_full_conversion(
    width: int, height: int, fmt: str, bt709: bool, full: bool, rotation: int
) -> None:
    frames = [_frame(width, height, fmt, seed, bt709, full) for seed in range(3)]
    subsample = pictures._Subsample.plan(frames[0], rotation)
    compact = pictures._Compact.plan(frames[0], rotation)
    odd_scale = width in (1280, 768, 1792, 720)
    assert (subsample is not None) == odd_scale
    assert subsample is not None or compact is not None
    fast = subsample or compact
    assert fast is not None
    for frame in frames:  # several frames: nothing may leak from one into the next
        assert np.array_equal(fast(frame), detection_picture(frame, rotation))


def test_the_stream_uses_the_subsample_and_checks_it() -> None:
    frames = [_frame(1280, 720, "yuv420p", seed, False, False) for seed in range(2)]
    stream = DetectionPictures()
    for frame in frames:
        assert np.array_equal(stream(frame, 90), detection_picture(frame, 90))
    assert isinstance(stream._compact, pictures._Subsample)


def test_planning_imports_nothing_new() -> None:
    """np.unique imports numpy.ma on first use (~50M instructions, per process)."""
    before = set(sys.modules)
    pictures._Compact.plan(_frame(1920, 1080, "yuv420p", 0, False, False), 0)
    assert not {name for name in set(sys.modules) - before if name.startswith("numpy")}
