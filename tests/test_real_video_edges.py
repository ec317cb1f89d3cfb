"""What real files do that clean synthetic ones don't: a display-matrix rotation, and damage in
the middle of the stream. Through a real server, as a user meets them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scenesearch.client.remote import SceneSearchClient
from scenesearch.server.app import RunningServer
from tests.support import reference_videos as rv


@pytest.fixture()
def api(server: RunningServer) -> SceneSearchClient:
    return SceneSearchClient(f"127.0.0.1:{server.port}", timeout_s=120.0)


@pytest.mark.parametrize("rotation", [90, -90])
def test_rotated_video_reports_the_streams_rotation_and_displayed_size(
    api: SceneSearchClient, media_root: Path, rotation: int
) -> None:
    path = rv.rotated_video(media_root / f"phone_{rotation}.mp4", rotation, (320, 180))
    video_id = api.ingest_path(str(path)).video_id
    detail = api.get_video(video_id)
    assert detail.video.rotation == rotation % 360
    assert (detail.video.width, detail.video.height) == (180, 320)  # as a player shows it
    listed = {v.id: v for v in api.list_videos()}[video_id]
    assert (listed.width, listed.height, listed.rotation) == (180, 320, rotation % 360)
    # Thumbnails are upright too: portrait, with the red block (coded top-left) where the
    # display rotation puts it.
    thumb = Image.open(io.BytesIO(api.thumbnail(detail.scenes[0].id).jpeg)).convert("RGB")
    assert thumb.size == (180, 320)
    pixels = np.asarray(thumb, dtype=float)
    corner = pixels[-30:, :20] if rotation == 90 else pixels[:30, -20:]
    assert corner[..., 0].mean() > 150 and corner[..., 1].mean() < 100


def test_damage_in_the_middle_loses_only_the_damaged_part(
    api: SceneSearchClient, media_root: Path, tmp_path: Path
) -> None:
    clean = rv.long_clean_video(tmp_path / "clean24.mp4", seconds=24.0, gop_s=3.0)
    damaged = rv.corrupt_middle(clean, media_root / "damaged24.mp4", at=1 / 3, nbytes=2000)
    final = api.ingest_path(str(damaged))
    assert "damaged" in final.message and "skipped" in final.message, final.message
    detail = api.get_video(final.video_id)
    assert detail.video.duration_s >= 0.9 * 24.0
    # The palettes change every 2 s: scenes after the gap keep their true times.
    starts = [s.start_s for s in detail.scenes]
    assert starts[-1] > 16.0
    assert all(abs(t / 2.0 - round(t / 2.0)) < 0.05 for t in starts if t > 12.0), starts
