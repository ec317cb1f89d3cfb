"""The real `scenesearch` console script against a live server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scenesearch.server.app import RunningServer
from tests.helpers import frame_png
from tests.support.synthetic import WrittenVideo, write_video

SCRIPT = shutil.which("scenesearch") or str(Path(sys.executable).parent / "scenesearch")


def cli(server: RunningServer, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [SCRIPT, "--address", f"127.0.0.1:{server.port}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_ingest_search_show_and_delete_through_the_cli(
    server: RunningServer, three_scenes: WrittenVideo, media_root: Path, tmp_path: Path
) -> None:
    proc = cli(server, "ingest", str(three_scenes.path), "--json")
    (row,) = json.loads(proc.stdout)
    video_id = row["video_id"]

    shown = json.loads(cli(server, "videos", "show", str(video_id), "--json").stdout)
    assert [s["start_s"] for s in shown["scenes"]] == pytest.approx([0.0, 2.0, 3.5], abs=1e-3)

    table = cli(server, "videos", "show", str(video_id)).stdout
    assert "00:00:02.000" in table and "00:00:03.500" in table

    image = tmp_path / "query.png"
    image.write_bytes(frame_png(three_scenes, 4.5))
    hits = json.loads(cli(server, "search", "--image", str(image), "--json").stdout)["hits"]
    assert (hits[0]["video_id"], hits[0]["scene_index"]) == (video_id, 2)

    text = cli(server, "search", "coloured blocks", "--top-k", "2").stdout
    assert "flat index" in text and text.count("00:00:") >= 4
    model = json.loads(cli(server, "stats", "--json").stdout)["model"]
    assert f"model {model}" in " ".join(text.split())  # which model answered (re-embed)

    scene_id = str(shown["scenes"][0]["id"])
    similar = json.loads(cli(server, "similar", scene_id, "--json").stdout)["hits"]
    assert scene_id not in {str(h["scene_id"]) for h in similar}

    extra = write_video(media_root / "cli_extra.mp4", [1.0, 1.0], seed=77)
    uploaded = json.loads(cli(server, "ingest", "--upload", str(extra.path), "--json").stdout)
    assert uploaded[0]["video_id"] > 0
    listed = json.loads(cli(server, "videos", "list", "--json").stdout)
    assert {"upload:cli_extra.mp4", str(three_scenes.path)} <= {v["path"] for v in listed}

    deleted = cli(server, "videos", "delete", str(uploaded[0]["video_id"])).stdout
    assert "deleted video" in deleted
    stats = json.loads(cli(server, "stats", "--json").stdout)
    assert stats["index_kind"] == "flat" and stats["scene_count"] == stats["index_size"]


def test_cli_ingest_of_a_directory_reports_each_file(
    server: RunningServer, media_root: Path
) -> None:
    folder = media_root / "folder"
    write_video(folder / "one.mp4", [1.0], seed=31)
    write_video(folder / "sub" / "two.mkv", [1.0], seed=32)
    (folder / "readme.txt").write_text("not a video")
    rows = json.loads(cli(server, "ingest", str(folder), "--json").stdout)
    assert sorted(Path(r["path"]).name for r in rows) == ["one.mp4", "two.mkv"]


def test_cli_errors_are_readable_and_exit_non_zero(server: RunningServer, media_root: Path) -> None:
    proc = cli(server, "videos", "show", "424242", ok=False)
    assert proc.returncode == 1 and "NOT_FOUND" in proc.stderr
    bad = media_root / "bad.mp4"
    bad.write_text("hello")
    proc = cli(server, "ingest", str(bad), ok=False)
    assert proc.returncode == 1 and "INVALID_ARGUMENT" in proc.stderr
    proc = cli(server, "search", ok=False)
    assert proc.returncode == 2 and "give a text query, or terms" in proc.stderr
    proc = cli(server, "search", "a cat", "--generation", "7", ok=False)
    assert proc.returncode == 1 and "NOT_FOUND" in proc.stderr  # no retained generation 7


def test_thumbnail_and_clip_through_the_cli(
    server: RunningServer, media_root: Path, tmp_path: Path
) -> None:
    video = write_video(media_root / "cli_clip.mp4", [1.0, 1.5], seed=51)
    (row,) = json.loads(cli(server, "ingest", str(video.path), "--json").stdout)
    shown = json.loads(cli(server, "videos", "show", str(row["video_id"]), "--json").stdout)
    second = shown["scenes"][1]

    jpeg = tmp_path / "thumb.jpg"
    cli(server, "thumbnail", str(second["id"]), "-o", str(jpeg))
    assert jpeg.read_bytes()[:3] == b"\xff\xd8\xff"

    clip = tmp_path / "scene.mp4"
    made = json.loads(cli(server, "clip", str(second["id"]), "-o", str(clip), "--json").stdout)
    assert made["bytes"] == clip.stat().st_size > 0 and made["stream_copy"] is True
    assert made["end_s"] == pytest.approx(second["end_s"], abs=1e-3)

    span_file = tmp_path / "span.mp4"
    args = ["--video", str(row["video_id"]), "--start", "0.2", "--end", "0.8", "-o", str(span_file)]
    span = cli(server, "clip", *args)
    assert "wrote" in span.stdout and span_file.stat().st_size > 0
    missing = cli(server, "clip", ok=False)
    assert missing.returncode == 2 and "scene id" in missing.stderr
    unknown = cli(server, "thumbnail", "999999", ok=False)
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
