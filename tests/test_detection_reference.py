"""Differential tests: our decode + detect gives exactly PySceneDetect's cuts, for every
detector we offer at its default threshold, on videos built to sit near those thresholds.

The reference is `scenedetect.detect(path, Detector())` (OpenCV backend, auto-downscale), the
pipeline a user would compare us with. Our side runs the production decoder and CutDetector.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import scenedetect

from scenesearch.contract import DETECTORS
from scenesearch.server.ingest.pipeline.decode import VideoDecoder
from scenesearch.server.ingest.pipeline.detect import DETECTOR_FACTORIES, CutDetector
from tests.support import reference_videos as rv
from tests.support.synthetic import photo_slideshow, write_video

W, H = 320, 240


def _near(path: Path, **encode: object) -> Path:
    pics = rv.near_threshold_scenes(W, H)
    return rv.encode(path, rv.scenes_video(pics, 0.7, 30), (W, H), **encode)  # type: ignore[arg-type]


def _slideshow(path: Path) -> Path:
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    return write_video(
        path, [1.5] * 4, size=(480, 270), frame_fn=photo_slideshow(photos, 480, 270)
    ).path


# name -> builder; each covers an edge a real file has (range, matrix, chroma, size, rotation).
VIDEOS: dict[str, Callable[[Path], Path]] = {
    "limited_range": lambda p: _near(p),
    "full_range_yuvj": lambda p: _near(p, pix_fmt="yuvj420p"),
    "full_range_tag": lambda p: _near(p, full_range=True),
    "bt709": lambda p: _near(p, bt709=True),
    "yuv444": lambda p: _near(p, pix_fmt="yuv444p"),
    "yuv422": lambda p: _near(p, pix_fmt="yuv422p"),
    "ten_bit": lambda p: _near(p, pix_fmt="yuv420p10le"),
    "odd_size_444": lambda p: rv.encode(
        p,
        rv.scenes_video(rv.near_threshold_scenes(321, 243), 0.7, 30),
        (321, 243),
        pix_fmt="yuv444p",
    ),
    "fades": lambda p: rv.encode(p, rv.fades_video(W, H), (W, H)),
    "dissolve": lambda p: rv.encode(p, rv.dissolve_video(W, H), (W, H)),
    "slow_pan": lambda p: rv.encode(p, rv.pan_video(W, H), (W, H)),
    "partial_change": lambda p: rv.encode(
        p, rv.scenes_video(rv.partial_scenes(W, H), 0.7, 30), (W, H)
    ),
    "rotated_90": lambda p: rv.rotated_video(p, 90),
    "demo_slideshow": _slideshow,
}
# HD sizes take the compact detection path (only the pixels the resize reads are converted).
SLOW_VIDEOS: dict[str, Callable[[Path], Path]] = {
    "hd_720p": lambda p: rv.encode(
        p, rv.scenes_video(rv.near_threshold_scenes(1280, 720, n=8), 0.6, 30), (1280, 720)
    ),
    "hd_rotated_720p": lambda p: rv.rotated_video(p, 90, (1280, 720), n=6),
}


def reference_cuts(path: Path) -> dict[str, list[int]]:
    detectors = {
        "content": scenedetect.ContentDetector,
        "adaptive": scenedetect.AdaptiveDetector,
        "threshold": scenedetect.ThresholdDetector,
        "histogram": scenedetect.HistogramDetector,
    }
    assert set(detectors) == set(DETECTORS), "a detector we offer has no reference here"
    return {
        name: [scene[0].frame_num for scene in scenedetect.detect(str(path), make())[1:]]
        for name, make in detectors.items()
    }


def our_cuts(path: Path) -> dict[str, list[int]]:
    """Every detector fed from one production decode pass, as ingest feeds its one."""
    with VideoDecoder(path) as decoder:
        stream = decoder.open()
        detectors = {name: CutDetector.named(name, 0.0, stream.average_fps) for name in DETECTORS}
        cuts: dict[str, set[int]] = {name: set() for name in DETECTORS}
        for frame in decoder.frames():
            for name, detector in detectors.items():
                cuts[name].update(detector.push(frame.index, frame.detect_bgr))
        for name, detector in detectors.items():
            cuts[name].update(detector.finish())
    return {name: sorted(c) for name, c in cuts.items()}


def _check(name: str, build: Callable[[Path], Path], tmp_path: Path) -> None:
    path = build(tmp_path / f"{name}.mp4")
    ours, reference = our_cuts(path), reference_cuts(path)
    assert ours == reference
    assert any(reference.values()), "the video should have cuts for some detector"


def test_every_offered_detector_has_a_factory() -> None:
    assert set(DETECTOR_FACTORIES) == set(DETECTORS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_cuts_equal_pyscenedetect(name: str, tmp_path: Path) -> None:
    _check(name, VIDEOS[name], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW_VIDEOS))
def test_cuts_equal_pyscenedetect_in_hd(name: str, tmp_path: Path) -> None:
    _check(name, SLOW_VIDEOS[name], tmp_path)
