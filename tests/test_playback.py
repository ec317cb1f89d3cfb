"""Thumbnails, video bytes, kept uploads and clip export, through a real server."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import av
import grpc
import numpy as np
import pytest
from PIL import Image

from scenesearch.client.remote import ClientError, SceneSearchClient
from scenesearch.server.app import RunningServer, start_server
from tests.conftest import make_settings
from tests.support.synthetic import WrittenVideo, scene_palette, write_video


def _read_all(client: SceneSearchClient, video_id: int, offset: int = 0, length: int = 0) -> bytes:
    return b"".join(client.read_video(video_id, offset, length).chunks)


def _clip_duration(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    assert times, "the clip has no frames"
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    return max(times) - min(times) + step


@pytest.fixture(scope="module")
def uploaded(client_module: SceneSearchClient, media_root: Path) -> tuple[int, WrittenVideo]:
    video = write_video(media_root / "uploaded_playback.mp4", [1.5, 2.0, 1.5], seed=21)
    final = client_module.upload(video.path)
    return final.video_id, video


@pytest.fixture(scope="module")
def client_module(server: RunningServer) -> Iterator[SceneSearchClient]:
    with SceneSearchClient(f"127.0.0.1:{server.port}", timeout_s=60.0) as c:
        yield c


def test_each_scene_has_an_upright_jpeg_of_its_own_content(
    client_module: SceneSearchClient, uploaded: tuple[int, WrittenVideo]
) -> None:
    video_id, _ = uploaded
    scenes = client_module.get_video(video_id).scenes
    assert len(scenes) == 3
    for scene in scenes:
        thumb = client_module.thumbnail(scene.id)
        image = Image.open(io.BytesIO(thumb.jpeg))
        assert image.format == "JPEG" and image.size == (thumb.width, thumb.height)
        assert (thumb.width, thumb.height) == (320, 240)
        assert scene.start_s <= thumb.time_s < scene.end_s
        pixels = np.asarray(image.convert("RGB"), dtype=float)
        palettes = [
            scene_palette(i, thumb.width, thumb.height, seed=21).astype(float) for i in range(3)
        ]
        distances = [np.abs(pixels - p).mean() for p in palettes]
        assert int(np.argmin(distances)) == scene.index, distances


def test_missing_thumbnails_are_made_on_request(
    server: RunningServer, client_module: SceneSearchClient, uploaded: tuple[int, WrittenVideo]
) -> None:
    video_id, _ = uploaded
    scene = client_module.get_video(video_id).scenes[1]
    before = client_module.thumbnail(scene.id)
    # As in a data dir from before thumbnails existed.
    with sqlite3.connect(server.data_dir / "scenesearch.db") as db:
        db.execute("DELETE FROM thumbnails WHERE scene_id = ?", (scene.id,))
    again = client_module.thumbnail(scene.id)
    assert again.time_s == pytest.approx(before.time_s, abs=1e-6)
    assert (again.width, again.height) == (before.width, before.height)
    with sqlite3.connect(server.data_dir / "scenesearch.db") as db:
        rows = db.execute("SELECT COUNT(*) FROM thumbnails WHERE scene_id = ?", (scene.id,))
        assert rows.fetchone()[0] == 1


def test_unknown_scene_has_no_thumbnail(client_module: SceneSearchClient) -> None:
    with pytest.raises(ClientError) as err:
        client_module.thumbnail(10**9)
    assert err.value.code == grpc.StatusCode.NOT_FOUND


def test_uploads_are_kept_and_served_by_byte_range(
    client_module: SceneSearchClient, uploaded: tuple[int, WrittenVideo]
) -> None:
    video_id, written = uploaded
    original = written.path.read_bytes()
    info = client_module.get_video(video_id).video
    assert info.playable and info.size_bytes == len(original)
    stream = client_module.read_video(video_id)
    assert stream.total_size == len(original) and stream.content_type == "video/mp4"
    assert b"".join(stream.chunks) == original
    assert _read_all(client_module, video_id, 100, 5000) == original[100:5100]
    assert _read_all(client_module, video_id, len(original) - 10, 999) == original[-10:]
    with pytest.raises(ClientError) as err:
        client_module.read_video(video_id, len(original), 1)
    assert err.value.code == grpc.StatusCode.OUT_OF_RANGE
    with pytest.raises(ClientError) as err:
        client_module.read_video(video_id, -1, 1)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(ClientError) as err:
        client_module.read_video(10**9)
    assert err.value.code == grpc.StatusCode.NOT_FOUND


def test_scene_clip_is_an_mp4_of_the_scene(
    client_module: SceneSearchClient, uploaded: tuple[int, WrittenVideo]
) -> None:
    video_id, _ = uploaded
    scene = client_module.get_video(video_id).scenes[1]
    clip = client_module.export_clip(scene.id)
    assert clip.stream_copy and clip.filename.endswith(".mp4")
    # Stream copy starts at the keyframe at or before the scene: up to one GOP early.
    assert clip.start_s <= scene.start_s + 1e-6
    duration = _clip_duration(clip.data)
    assert duration == pytest.approx(clip.end_s - clip.start_s, abs=0.1)
    assert scene.end_s - scene.start_s <= duration + 0.1


def test_span_clip_of_a_codec_mp4_cannot_carry_is_transcoded(
    client_module: SceneSearchClient, media_root: Path
) -> None:
    video = write_video(media_root / "vp8_clip.webm", [1.0, 1.0], codec="libvpx", seed=5)
    final = client_module.ingest_path(str(video.path))
    clip = client_module.export_clip(video_id=final.video_id, start_s=0.5, end_s=1.5)
    assert not clip.stream_copy
    assert _clip_duration(clip.data) == pytest.approx(1.0, abs=0.1)
    with av.open(io.BytesIO(clip.data)) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_bad_clip_requests(
    client_module: SceneSearchClient, uploaded: tuple[int, WrittenVideo]
) -> None:
    video_id, _ = uploaded
    cases = [
        ({"video_id": video_id, "start_s": 2.0, "end_s": 1.0}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"video_id": 10**9}, grpc.StatusCode.NOT_FOUND),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as err:
            client_module.export_clip(**kwargs)  # type: ignore[arg-type]
        assert err.value.code == code, kwargs
    with pytest.raises(ClientError) as err:
        client_module.export_clip(10**9)
    assert err.value.code == grpc.StatusCode.NOT_FOUND


def test_delete_removes_the_kept_upload_but_never_a_media_root_file(
    server: RunningServer, client_module: SceneSearchClient, media_root: Path
) -> None:
    by_upload = write_video(media_root / "to_delete.mp4", [1.2], seed=131)
    uploaded = client_module.upload(by_upload.path)
    assert not uploaded.already_ingested  # content unique to this test
    uploaded_id = uploaded.video_id
    kept = list((server.data_dir / "media").rglob("*"))
    assert any(p.is_file() and p.read_bytes() == by_upload.path.read_bytes() for p in kept)
    client_module.delete_video(uploaded_id)
    left = [p for p in (server.data_dir / "media").rglob("*") if p.is_file()]
    assert all(p.read_bytes() != by_upload.path.read_bytes() for p in left)

    by_path = write_video(media_root / "keep_mine.mp4", [1.2], seed=132)
    path_id = client_module.ingest_path(str(by_path.path)).video_id
    assert client_module.get_video(path_id).video.playable
    client_module.delete_video(path_id)
    assert by_path.path.is_file()


@pytest.mark.slow
def test_discard_uploads_keeps_todays_behaviour(
    tmp_path: Path, tiny_model: Path, media_root: Path
) -> None:
    running = start_server(
        make_settings(tmp_path / "data", tiny_model, media_root, keep_uploads=False)
    )
    try:
        with SceneSearchClient(f"127.0.0.1:{running.port}", timeout_s=60.0) as client:
            video = write_video(media_root / "discarded.mp4", [1.2], seed=141)
            video_id = client.upload(video.path).video_id
            assert not client.get_video(video_id).video.playable
            with pytest.raises(ClientError) as err:
                client.read_video(video_id)
            assert err.value.code == grpc.StatusCode.NOT_FOUND
            assert "not on the server" in err.value.message
            # Neither the spooled upload nor a kept copy remains.
            leftovers = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
            assert all(p.read_bytes() != video.path.read_bytes() for p in leftovers)
    finally:
        running.stop(1.0)
