"""Web tier test tooling: the app over a live server, SSE reading, a loopback-only browser."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import av
from starlette.applications import Starlette
from starlette.testclient import TestClient

from scenesearch.client.remote import SceneSearchClient
from scenesearch.client.web.app import create_app
from scenesearch.client.web.common import WebConfig
from scenesearch.client.web.gateway import ServerTarget
from scenesearch.server.app import RunningServer, start_server
from tests.conftest import make_settings
from tests.helpers import ingest
from tests.support.synthetic import WrittenVideo, blocky_scenes

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("SCENESEARCH_CHROMIUM", "/usr/bin/chromium"))
# Chromium with nothing of its own on the network: no background fetches, no component or
# safe-browsing updates, no sync, no first-run or default apps, no QUIC probing.
# (Playwright adds --headless itself, and a fresh --user-data-dir comes from
# launch_persistent_context.)
BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
    "--disable-breakpad",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-quic",
    "--metrics-recording-only",
    "--no-pings",
    "--autoplay-policy=no-user-gesture-required",
]


def web_app(address: str, **changes: Any) -> Starlette:
    """The web tier over the gRPC server at `address`; `changes` adjust WebConfig."""
    # "testserver" is the Host of Starlette's TestClient.
    config = WebConfig(
        ServerTarget(address, timeout_s=60.0), allowed_hosts=("127.0.0.1", "testserver")
    )
    target_changes = {k: changes.pop(k) for k in ("token",) if k in changes}
    config = replace(config, target=replace(config.target, **target_changes), **changes)
    return create_app(config)


OPEN_RANGE = 4096  # the web tier's cap on an open-ended range, small to test it
MAX_IMAGE = 200_000
MAX_UPLOAD = 5_000_000


@dataclass
class WebStack:
    """A server with one video ingested, and a TestClient of the web tier over it."""

    server: RunningServer
    video_id: int
    client: TestClient


@contextmanager
def web_stack(
    data_dir: Path, model: Path, media_root: Path, video: WrittenVideo, spool: Path
) -> Iterator[WebStack]:
    server = start_server(make_settings(data_dir, model, media_root))
    try:
        address = f"127.0.0.1:{server.port}"
        with SceneSearchClient(address, timeout_s=60) as client:
            video_id = ingest(client, video.path)
        app = web_app(
            address,
            open_range_bytes=OPEN_RANGE,
            max_image_bytes=MAX_IMAGE,
            max_upload_bytes=MAX_UPLOAD,
            spool_dir=spool,
        )
        with TestClient(app, follow_redirects=False) as web:
            yield WebStack(server, video_id, web)
    finally:
        server.stop(1.0)


def sse_events(client: TestClient, url: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs of a server-sent event stream, until it ends."""
    kind = ""
    with client.stream("GET", url) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                yield kind, json.loads(line.removeprefix("data: "))


def artifacts_dir() -> Path:
    """Where a test run leaves its screenshots: SCENESEARCH_TEST_ARTIFACTS, else
    build/test-artifacts/web (ignored by git)."""
    default = ROOT / "build" / "test-artifacts" / "web"
    path = Path(os.environ.get("SCENESEARCH_TEST_ARTIFACTS", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def publish_screenshot(shot: Path, name: str) -> None:
    """Copy a screenshot to docs/ for the README, only when asked (SCENESEARCH_UPDATE_DOCS=1),
    so an ordinary test run never changes tracked files."""
    if os.environ.get("SCENESEARCH_UPDATE_DOCS") == "1":
        docs = ROOT / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, docs / name)


def write_gop_video(
    path: Path, scene_seconds: list[float], gop: int = 15, fps: int = 30, seed: int = 3
) -> float:
    """An H.264 video with a keyframe every `gop` frames (the synthetic writer leaves x264
    its defaults: one keyframe for a short video), so "a clip within one GOP of its scene"
    is a real check. Returns the GOP in seconds."""
    draw = blocky_scenes(320, 240, seed)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {
            "preset": "ultrafast",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
        }
        index = 0
        for scene, seconds in enumerate(scene_seconds):
            for k in range(round(seconds * fps)):
                frame = av.VideoFrame.from_ndarray(draw(scene, k / fps), format="rgb24")
                frame.pts = index
                index += 1
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return gop / fps


def keyframe_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            float(p.pts * p.time_base)
            for p in container.demux(stream)
            if p.is_keyframe and p.pts is not None
        ]
