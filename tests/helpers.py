"""Helpers for tests that talk to a live server."""

from __future__ import annotations

import io
from pathlib import Path

import av
from PIL import Image

from scenesearch.client.remote import SceneSearchClient
from tests.support.synthetic import WrittenVideo


def frame_png(video: WrittenVideo, at_s: float) -> bytes:
    """The decoded frame of `video` nearest to `at_s`, as PNG bytes."""
    with av.open(str(video.path)) as container:
        best = None
        for frame in container.decode(video=0):
            t = float(frame.pts * frame.time_base)
            if best is None or abs(t - at_s) < best[0]:
                best = (abs(t - at_s), frame.to_image())
            if t > at_s + 1.0:
                break
    assert best is not None
    buf = io.BytesIO()
    best[1].save(buf, format="PNG")
    return buf.getvalue()


def png_of_size(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def ingest(client: SceneSearchClient, path: Path) -> int:
    return client.ingest_path(str(path)).video_id
