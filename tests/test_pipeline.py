"""The ingest pipeline over real encoded videos, with the tiny CLIP model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scenesearch.server.domain import IngestParams, IngestResult
from scenesearch.server.embedder import ClipEmbedder
from scenesearch.server.errors import UnsupportedMedia
from scenesearch.server.ingest.pipeline.orchestrator import default_stages, ingest_file
from tests.support.synthetic import WrittenVideo, write_audio_only, write_video

PARAMS = IngestParams(sample_interval_s=1.0, detector="content", threshold=0.0, batch_size=8)


def run(path: Path, embedder: ClipEmbedder, params: IngestParams = PARAMS) -> IngestResult:
    return ingest_file(path, params, default_stages(params, embedder.embed_images))


def assert_cuts_match(result: IngestResult, video: WrittenVideo) -> None:
    assert len(result.scenes) == len(video.scene_starts_s)
    for scene, frame, seconds in zip(
        result.scenes, video.scene_start_frames, video.scene_starts_s, strict=True
    ):
        assert abs(scene.start_frame - frame) <= 1
        period = video.frame_times_s[1] - video.frame_times_s[0]
        assert scene.start_s == pytest.approx(seconds, abs=max(period, 1 / 30) + 1e-6)
    assert result.info.frame_count == len(video.frame_times_s)
    assert result.info.duration_s == pytest.approx(video.duration_s, abs=0.05)


@pytest.mark.parametrize(
    ("name", "scenes", "options"),
    [
        ("cuts_30fps", [2.0, 1.5, 3.0, 1.0], {}),
        ("cuts_25fps", [1.6, 2.0, 1.2], {"fps": 25.0}),
        ("ntsc_23976_audio", [2.0, 2.5], {"fps": 24000 / 1001, "audio": True}),
        ("odd_size_321x243", [1.5, 1.5, 1.5], {"size": (321, 243)}),
        ("vfr", [2.0, 1.5, 2.0], {"vfr": True}),
        ("vp9_webm", [1.5, 1.5], {"codec": "libvpx-vp9"}),
    ],
)
def test_scene_starts_match_known_cuts(
    tmp_path: Path, embedder: ClipEmbedder, name: str, scenes: list[float], options: dict
) -> None:
    suffix = ".webm" if options.get("codec") == "libvpx-vp9" else ".mp4"
    video = write_video(tmp_path / f"{name}{suffix}", scenes, **options)
    result = run(video.path, embedder)
    assert_cuts_match(result, video)


def test_vfr_times_come_from_timestamps_not_frame_counts(
    tmp_path: Path, embedder: ClipEmbedder
) -> None:
    video = write_video(tmp_path / "vfr.mp4", [3.0, 3.0], vfr=True, fps=20.0)
    result = run(video.path, embedder)
    # With alternating 0.5x / 1.5x frame durations, frame_no / average fps is wrong by up to
    # half a period; the stored times must equal the encoded presentation times.
    for frame in result.frames:
        assert frame.time_s == pytest.approx(video.frame_times_s[frame.frame_no], abs=1e-3)
    assert result.scenes[1].start_s == pytest.approx(video.scene_starts_s[1], abs=1e-3)


def test_single_scene_video_is_one_scene(tmp_path: Path, embedder: ClipEmbedder) -> None:
    video = write_video(tmp_path / "one.mp4", [4.0])
    result = run(video.path, embedder)
    assert len(result.scenes) == 1
    assert result.scenes[0].end_s == pytest.approx(4.0, abs=0.04)


def test_every_scene_has_its_first_frame_sampled(tmp_path: Path, embedder: ClipEmbedder) -> None:
    # Scenes shorter than the sample interval still get a frame: their first.
    video = write_video(tmp_path / "short.mp4", [2.2, 0.7, 0.6, 2.0])
    params = IngestParams(sample_interval_s=5.0, detector="content", threshold=0.0, batch_size=4)
    result = run(video.path, embedder, params)
    starts = {s.start_frame for s in result.scenes}
    assert starts <= {f.frame_no for f in result.frames}
    assert {f.scene_index for f in result.frames} == set(range(len(result.scenes)))


def test_vectors_are_normalised_and_scene_is_mean_of_frames(
    three_scenes: WrittenVideo, embedder: ClipEmbedder
) -> None:
    result = run(three_scenes.path, embedder)
    assert result.frame_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.frame_vectors, axis=1), 1.0, atol=1e-5)
    rows = [i for i, f in enumerate(result.frames) if f.scene_index == 0]
    mean = result.frame_vectors[rows].mean(axis=0)
    np.testing.assert_allclose(result.scene_vectors[0], mean / np.linalg.norm(mean), atol=1e-5)


def test_sample_interval_controls_sample_count(tmp_path: Path, embedder: ClipEmbedder) -> None:
    video = write_video(tmp_path / "long.mp4", [6.0])
    dense = IngestParams(sample_interval_s=0.5, detector="content", threshold=0.0, batch_size=8)
    assert len(run(video.path, embedder, dense).frames) == 12
    assert len(run(video.path, embedder).frames) == 6


@pytest.mark.parametrize("detector", ["adaptive", "histogram"])
def test_other_detectors_find_the_cuts(
    three_scenes: WrittenVideo, embedder: ClipEmbedder, detector: str
) -> None:
    params = IngestParams(sample_interval_s=1.0, detector=detector, threshold=0.0, batch_size=8)
    assert_cuts_match(run(three_scenes.path, embedder, params), three_scenes)


def test_not_a_video_is_rejected_with_reason(tmp_path: Path, embedder: ClipEmbedder) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(UnsupportedMedia, match="not a readable media file"):
        run(text, embedder)
    audio = write_audio_only(tmp_path / "tone.m4a")
    with pytest.raises(UnsupportedMedia, match="no video stream"):
        run(audio, embedder)


def test_truncated_file_keeps_what_decodes(tmp_path: Path, embedder: ClipEmbedder) -> None:
    video = write_video(tmp_path / "full.mkv", [2.0, 2.0])
    data = video.path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    result = run(cut, embedder)
    assert 0 < result.info.frame_count < len(video.frame_times_s)
    assert result.scenes[0].start_s == 0.0
