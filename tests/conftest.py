"""Shared fixtures: a tiny random CLIP checkpoint on disk, generated videos, a live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from scenesearch.client.remote import SceneSearchClient
from scenesearch.server.app import RunningServer, start_server
from scenesearch.server.config import Settings
from scenesearch.server.embedder import ClipEmbedder
from tests.support.random_model import write_random_clip
from tests.support.synthetic import WrittenVideo, write_video


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `pytest -n N --dist loadgroup` (make test), a test module runs whole on one
    worker, in order, as its tests and module fixtures expect; the Milvus suites share one
    worker (so one Milvus server starts), and so do the Ray suites (one local runtime at a
    time)."""
    for item in items:
        path = item.path
        if "milvus" in path.parts:
            group = "milvus"
        elif path.name.startswith("test_ray_"):
            group = "ray"
        else:
            group = str(path)
        item.add_marker(pytest.mark.xdist_group(group))


# Tests never reach a model hub: a hub id must fail fast instead of retrying for a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised CLIP checkpoint, loaded through the production from_pretrained."""
    return write_random_clip(tmp_path_factory.mktemp("model") / "tiny-clip")


@pytest.fixture(scope="session")
def embedder(tiny_model: Path) -> ClipEmbedder:
    return ClipEmbedder.load(str(tiny_model), "cpu", "fp32")


@pytest.fixture(scope="session")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media").resolve()


@pytest.fixture(scope="session")
def three_scenes(media_root: Path) -> WrittenVideo:
    """Hard cuts at 2.0 s and 3.5 s, 30 fps, with an audio track."""
    return write_video(media_root / "three_scenes.mp4", [2.0, 1.5, 2.5], audio=True)


@pytest.fixture(scope="session")
def two_scenes(media_root: Path) -> WrittenVideo:
    return write_video(media_root / "two_scenes.mp4", [2.5, 2.0], seed=7, fps=25.0)


def make_settings(data_dir: Path, model: Path, media_root: Path, **changes: object) -> Settings:
    base = Settings(
        data_dir=data_dir,
        address="127.0.0.1:0",
        model=str(model),
        device="cpu",
        # fp32 keeps the tiny random model's small score gaps exact on every CPU.
        precision="fp32",
        media_roots=(media_root,),
        stall_timeout_s=60.0,
        max_workers=8,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, media_root: Path
) -> Iterator[RunningServer]:
    running = start_server(make_settings(tmp_path_factory.mktemp("data"), tiny_model, media_root))
    yield running
    running.stop(1.0)


@pytest.fixture()
def client(server: RunningServer) -> Iterator[SceneSearchClient]:
    with SceneSearchClient(f"127.0.0.1:{server.port}", timeout_s=60.0) as c:
        yield c
