"""One real Milvus server (the `milvus` extra's embedded Milvus 2.3) for the whole test
session, on loopback only (server/index/milvus_local.py), and helpers to open a store and an
index on it the way `scenesearch serve --backend milvus` does."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from scenesearch.server.app import RunningServer, start_server
from scenesearch.server.config import Settings
from scenesearch.server.index.backends import REGISTRY
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.index.milvus_local import LocalMilvus
from scenesearch.server.metrics.base import NO_METRICS
from scenesearch.server.storage.milvus_target import MilvusTarget
from scenesearch.server.storage.store import Store
from tests.conftest import make_settings

MISSING = [m for m in ("milvus", "pymilvus") if importlib.util.find_spec(m) is None]


@pytest.fixture(scope="session")
def local_milvus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMilvus]:
    if MISSING:
        pytest.skip(
            f"the milvus extra is not installed ({', '.join(MISSING)} missing): "
            "pip install -e '.[milvus]' (make install does)"
        )
    from scenesearch.server.index.milvus_local import start_local_milvus

    server = start_local_milvus(tmp_path_factory.mktemp("milvus"))
    try:
        yield server
    finally:
        server.stop(grace_s=0.0)  # throwaway data: no need to wait for a clean shutdown


@pytest.fixture(scope="session")
def milvus_uri(local_milvus: LocalMilvus) -> str:
    return local_milvus.uri


def milvus_settings(data_dir: Path, uri: str, kind: str, params: Mapping[str, str]) -> Settings:
    return Settings(
        data_dir=data_dir,
        index_kind=kind,
        index_params=dict(params),
        backend="milvus",
        milvus=MilvusTarget(uri=uri),
    )


def open_milvus(
    data_dir: Path, uri: str, kind: str, params: Mapping[str, str], model: str, dim: int
) -> tuple[Store, LiveIndex]:
    """Store and index of a data dir on the Milvus backend, opened as the server opens them."""
    settings = milvus_settings(data_dir, uri, kind, params)
    backend = REGISTRY["milvus"]
    store = Store.open(data_dir, backend.vectors(settings))
    store.bind_model(model, dim)
    index = backend.index(store, settings, NO_METRICS)
    index.open()
    return store, index


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, media_root: Path, milvus_uri: str
) -> Iterator[RunningServer]:
    """The suite's live gRPC server, on the Milvus backend: tests under tests/milvus/ that
    take `server` or `client` (including the e2e tests imported from tests/) run against it."""
    settings = replace(
        make_settings(tmp_path_factory.mktemp("milvus-data"), tiny_model, media_root),
        backend="milvus",
        milvus=MilvusTarget(uri=milvus_uri),
    )
    running = start_server(settings)
    yield running
    running.stop(1.0)
