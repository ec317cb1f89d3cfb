"""Pure rules of the sample stage, on plain numbers."""

from __future__ import annotations

import numpy as np
import pytest

from scenesearch.client.render import timestamp
from scenesearch.server.ingest.pipeline.decode import scaled_size
from scenesearch.server.ingest.pipeline.pictures import rotate_upright
from scenesearch.server.ingest.pipeline.sample import (
    FrameClock,
    IntervalSampler,
    assign_frames,
    build_scenes,
    scene_vectors,
)


def test_interval_sampler_takes_first_frame_then_one_per_interval() -> None:
    sampler = IntervalSampler(1.0)
    times = [i / 30 for i in range(95)]
    due = [t for t in times if sampler.due(t)]
    assert due == pytest.approx([0.0, 1.0, 2.0, 3.0], abs=1 / 30)


def test_interval_sampler_does_not_repeat_after_a_gap() -> None:
    sampler = IntervalSampler(1.0)
    assert [sampler.due(t) for t in (0.0, 5.2, 5.3, 6.0)] == [True, True, False, True]


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        IntervalSampler(0)


def test_no_cut_is_one_scene_ending_after_last_frame() -> None:
    clock = FrameClock([i / 10 for i in range(20)])
    (scene,) = build_scenes([], clock)
    assert (scene.start_frame, scene.end_frame) == (0, 20)
    assert scene.end_s == pytest.approx(2.0)


def test_scenes_from_cuts_use_frame_times_and_ignore_bogus_cuts() -> None:
    times = [0.0, 0.05, 0.2, 0.25, 0.4, 0.45]  # variable frame rate
    scenes = build_scenes([2, 2, 0, 99, 4], FrameClock(times))
    assert [(s.start_frame, s.end_frame) for s in scenes] == [(0, 2), (2, 4), (4, 6)]
    assert [s.start_s for s in scenes] == [0.0, 0.2, 0.4]
    assert [s.end_s for s in scenes][:2] == [0.2, 0.4]


def test_assign_frames_orders_and_attaches_to_scenes() -> None:
    scenes = build_scenes([3, 6], FrameClock([float(i) for i in range(9)]))
    frames = assign_frames([(7, 7.0), (0, 0.0), (3, 3.0), (5, 5.0)], scenes)
    assert [(f.frame_no, f.scene_index) for f in frames] == [(0, 0), (3, 1), (5, 1), (7, 2)]


def test_scene_vector_is_normalised_mean_and_empty_scene_borrows_nearest() -> None:
    scenes = build_scenes([2, 4], FrameClock([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]))
    frames = assign_frames([(0, 0.0), (1, 1.0), (4, 4.0)], scenes)
    vectors = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    result = scene_vectors(frames, vectors, len(scenes))
    np.testing.assert_allclose(result[0], [2**-0.5, 2**-0.5], atol=1e-6)
    assert np.linalg.norm(result[1]) == pytest.approx(1.0)  # scene 1 had no sampled frame
    np.testing.assert_allclose(result[2], [2**-0.5, 2**-0.5], atol=1e-6)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1280, 720), (398, 224)),
        ((321, 243), (296, 224)),
        ((200, 100), (200, 100)),
        ((720, 1280), (224, 398)),
    ],
)
def test_scaled_size_keeps_aspect_and_never_upscales(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert scaled_size(*size) == expected


def test_rotate_upright_turns_quarter_turns() -> None:
    img = np.arange(6, dtype=np.uint8).reshape(2, 3, 1).repeat(3, axis=2)
    assert rotate_upright(img, 90).shape == (3, 2, 3)
    assert rotate_upright(img, -90).shape == (3, 2, 3)
    np.testing.assert_array_equal(rotate_upright(img, 0), img)
    np.testing.assert_array_equal(rotate_upright(rotate_upright(img, 90), -90), img)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "00:00:00.000"),
        (61.5, "00:01:01.500"),
        (3725.0004, "01:02:05.000"),
        (-1.0, "00:00:00.000"),
    ],
)
def test_timestamp_format(seconds: float, text: str) -> None:
    assert timestamp(seconds) == text
