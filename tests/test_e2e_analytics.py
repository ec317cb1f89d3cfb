"""Classify and Timeline end to end: tiny CLIP, generated videos, image prompts."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import grpc
import pytest

from scenesearch.client.remote import ClientError, SceneSearchClient
from scenesearch.server.app import RunningServer
from scenesearch.server.storage.store import Store
from tests.helpers import frame_png, ingest
from tests.support.synthetic import WrittenVideo
from tests.test_cli import cli


def scene_images(video: WrittenVideo) -> list[bytes]:
    return [frame_png(video, start + 0.3) for start in video.scene_starts_s]


def test_classify_labels_the_right_time_ranges(
    client: SceneSearchClient, three_scenes: WrittenVideo
) -> None:
    video_id = ingest(client, three_scenes.path)
    (result,) = client.classify(
        [video_id], prompt_images=scene_images(three_scenes), interval_s=1.0
    )
    assert result.labels == ["image 1", "image 2", "image 3"]
    # Scenes run 0-2 s, 2-3.5 s, 3.5-6 s; samples every 1 s plus each scene's first frame.
    by_label = {p.label: p for p in result.prompts}
    expected = {"image 1": (0.0, 2.0), "image 2": (2.0, 3.5), "image 3": (3.5, 6.0)}
    for label, (start, end) in expected.items():
        summary = by_label[label]
        assert summary.contains
        assert summary.first_seen_s == pytest.approx(start, abs=1.0)
        (segment,) = summary.segments
        assert segment.start_s == pytest.approx(start, abs=1.0)
        assert segment.end_s == pytest.approx(end, abs=1.0)
        assert summary.coverage_pct == pytest.approx(100 * (end - start) / 6.0, abs=100 / 6)
    assert sum(p.coverage_pct for p in result.prompts) == pytest.approx(100.0, abs=0.1)
    # [3, 4) holds one sample of each of scenes 2 and 3 (3.0 s and 3.5 s): a tie, which goes
    # to the label seen first.
    assert [i.label for i in result.intervals] == [
        "image 1",
        "image 1",
        "image 2",
        "image 2",
        "image 3",
        "image 3",
    ]
    assert result.intervals[3].counts == [0, 1, 1]


def test_classify_many_videos_and_text_prompts_with_null_class(
    client: SceneSearchClient, three_scenes: WrittenVideo, two_scenes: WrittenVideo
) -> None:
    ids = {ingest(client, three_scenes.path), ingest(client, two_scenes.path)}
    results = client.classify(
        prompts=["an office", "a beach"],
        all_videos=True,
        null_prompt="something else",
        interval_s=2.5,
    )
    assert ids <= {r.video_id for r in results}
    for r in results:
        assert r.labels == ["an office", "a beach", "(none of these)"]
        assert r.intervals[-1].end_s == pytest.approx(r.duration_s)
        assert sum(p.coverage_pct for p in r.prompts) == pytest.approx(100.0, abs=0.1)


def test_timeline_curves_segments_csv_and_plot(
    server: RunningServer,
    client: SceneSearchClient,
    three_scenes: WrittenVideo,
    tmp_path: Path,
) -> None:
    video_id = ingest(client, three_scenes.path)
    images = scene_images(three_scenes)
    (timeline,) = client.timeline([video_id], prompt_images=images[2:])
    (curve,) = timeline.curves
    assert len(curve.scores) == len(timeline.times_s) > 0
    assert timeline.scene_starts_s == pytest.approx([0.0, 2.0, 3.5], abs=1e-3)
    best = timeline.times_s[max(range(len(curve.scores)), key=curve.scores.__getitem__)]
    assert 3.5 - 1e-6 <= best < 6.0  # the third scene's own image matches it best
    threshold = sorted(curve.scores)[-2]  # the two best samples lie in the third scene
    (flagged,) = client.timeline([video_id], prompt_images=images[2:], threshold=threshold)
    assert flagged.curves[0].segments and all(
        s.start_s >= 3.5 - 1e-6 for s in flagged.curves[0].segments
    )

    image = tmp_path / "scene3.png"
    image.write_bytes(images[2])
    png, csv_file = tmp_path / "curve.png", tmp_path / "curve.csv"
    proc = cli(
        server,
        "timeline",
        str(video_id),
        "--prompt-image",
        str(image),
        "--prompt",
        "a white square",
        "--smooth",
        "3",
        "--threshold",
        str(threshold),
        "--csv",
        str(csv_file),
        "--plot",
        str(png),
        "--size",
        "800x400",
    )
    assert "flagged segments" in proc.stdout
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (800, 400)
    rows = csv_file.read_text().splitlines()
    assert rows[0] == "video_id,time_s,a white square,scene3.png"  # texts, then images
    assert len(rows) == 1 + len(timeline.times_s)

    shown = cli(
        server,
        "classify",
        str(video_id),
        "--prompt-image",
        str(image),
        "--prompt",
        "a white square",
        "--interval",
        "2",
    ).stdout
    assert "coverage" in shown and "00:00:04.000" in shown
    as_json = json.loads(cli(server, "classify", str(video_id), "--prompt", "x", "--json").stdout)
    assert as_json[0]["prompts"][0]["coverage_pct"] == pytest.approx(100.0)


def test_analytics_errors_have_specific_statuses(
    server: RunningServer, client: SceneSearchClient, three_scenes: WrittenVideo
) -> None:
    video_id = ingest(client, three_scenes.path)
    cases = [
        (lambda: client.classify([987654], ["x"]), grpc.StatusCode.NOT_FOUND),
        (lambda: client.timeline([987654], ["x"]), grpc.StatusCode.NOT_FOUND),
        (lambda: client.classify([video_id], []), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: client.classify([video_id], ["p"] * 65), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: client.classify([video_id], ["  "]), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: client.classify([], ["x"]), grpc.StatusCode.INVALID_ARGUMENT),
        (
            lambda: client.classify([video_id], prompt_images=[b"nope"]),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (lambda: client.timeline([video_id], ["x"], smooth=-1), grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as info:
            call()
        assert info.value.code == code, info.value
    # A video whose ingest is still running: its id exists but it has no frames yet.
    store = Store.open(server.data_dir)
    _, pending = store.reserve_video("/still/decoding.mp4", "pending-hash")
    try:
        with pytest.raises(ClientError) as info:
            client.classify([pending], ["x"])
        assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "still being ingested" in info.value.message
        assert pending not in {r.video_id for r in client.classify(prompts=["x"], all_videos=True)}
    finally:
        store.discard_reservations(pending)
