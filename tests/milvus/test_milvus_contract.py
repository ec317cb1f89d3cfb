"""The FAISS kinds' contract suites, run unchanged on the Milvus backend for every kind.

Each reused test opens its store and index through a module-level helper
(`open_catalog`, `open_live`, `open_engine`); here those helpers open the same data dir the
way `scenesearch serve --backend milvus` does, against a real Milvus server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import tests.test_index_kinds as kinds_suite
import tests.test_search_paths as search_suite
import tests.test_store_index as store_suite
from scenesearch.server.config import Settings
from scenesearch.server.index import KINDS
from scenesearch.server.index.backends import REGISTRY
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.metrics.base import NO_METRICS
from scenesearch.server.query.search import SearchEngine
from scenesearch.server.query.text_batcher import TextBatcher
from scenesearch.server.storage.catalog import Catalog
from scenesearch.server.storage.store import Store
from tests.milvus.conftest import open_milvus
from tests.support.library import Library, build_library

# Dedup and id reuse are catalog facts (SQLite, as on FAISS): the e2e dedup test covers them.
STORE_TESTS = [
    store_suite.test_commit_is_whole_and_searchable,
    store_suite.test_failed_commit_leaves_nothing,
    store_suite.test_delete_removes_from_store_and_index,
]


@pytest.mark.parametrize("test", STORE_TESTS, ids=lambda t: t.__name__)
def test_store_and_index_contract(
    test: Callable[[Path], None],
    tmp_path: Path,
    milvus_uri: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def open_catalog(data_dir: Path) -> tuple[Store, LiveIndex, Catalog]:
        store, index = open_milvus(data_dir, milvus_uri, "flat", {}, "test-model", store_suite.DIM)
        return store, index, Catalog(store, index)

    monkeypatch.setattr(store_suite, "open_catalog", open_catalog)
    test(tmp_path)


def test_switching_kind_on_restart(
    tmp_path: Path, milvus_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every kind (LSH codes included) answers the same as flat after a restart."""

    def open_live(data_dir: Path, kind: str) -> tuple[Store, LiveIndex, Catalog]:
        params = {"nbits": "64"} if kind == "lsh" else {}
        store, index = open_milvus(data_dir, milvus_uri, kind, params, "test-model", 8)
        return store, index, Catalog(store, index)

    monkeypatch.setattr(kinds_suite, "open_live", open_live)
    kinds_suite.test_switching_kind_on_restart_rebuilds_from_sqlite(tmp_path)


def milvus_engine(path: Path, uri: str, kind: str) -> tuple[Store, LiveIndex, SearchEngine]:
    store, index = open_milvus(
        path, uri, kind, search_suite.PARAMS[kind], "synthetic", search_suite.DIM
    )

    def no_text(texts: object) -> object:
        raise AssertionError("no text queries here")

    engine = SearchEngine(
        store,
        index,
        TextBatcher(no_text),  # type: ignore[arg-type]
        lambda data: np.frombuffer(data, dtype=np.float32).reshape(1, -1),
    )
    engine.exact_limits.update(REGISTRY["milvus"].exact_limits)  # as the server wires it
    return store, index, engine


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Library]:
    path = tmp_path_factory.mktemp("milvus-library")
    suite = search_suite
    return path, build_library(path, suite.VIDEOS, suite.SCENES, suite.FRAMES, suite.DIM)


@pytest.fixture(scope="module", params=sorted(KINDS))
def engine(
    request: pytest.FixtureRequest, library: tuple[Path, Library], milvus_uri: str
) -> Iterator[tuple[SearchEngine, Library]]:
    path, lib = library
    _, _, engine = milvus_engine(path, milvus_uri, request.param)
    yield engine, lib


SEARCH_TESTS = [
    search_suite.test_small_filters_return_the_exact_answer,
    search_suite.test_min_score,
    search_suite.test_exclusions,
]


@pytest.mark.parametrize("test", SEARCH_TESTS, ids=lambda t: t.__name__)
def test_search_paths(
    test: Callable[[tuple[SearchEngine, Library]], None], engine: tuple[SearchEngine, Library]
) -> None:
    test(engine)


def test_large_filters_keep_recall(engine: tuple[SearchEngine, Library]) -> None:
    search_suite.test_large_filters_through_the_index_keep_recall(engine, 0.5)


def test_faiss_data_dir_moves_into_milvus_and_is_then_refused_by_faiss(
    tmp_path: Path, milvus_uri: str
) -> None:
    library = build_library(tmp_path, 3, 4, 2, 8, model_id="test-model", seed=5)
    store, index = open_milvus(tmp_path, milvus_uri, "flat", {}, "test-model", 8)
    blobs = store.db.execute("SELECT MAX(length(vector)) FROM frames").fetchone()[0]
    assert blobs == 0  # the catalog rows gave their vectors to Milvus
    _, ids = index.search(library.vectors[3:4], 1)
    assert ids[0][0] == library.scene_ids[3]
    found, vectors = store.lookup_vectors(library.scene_ids)
    assert found.tolist() == library.scene_ids.tolist()
    np.testing.assert_allclose(vectors, library.vectors, atol=1e-6)
    plain = Store.open(tmp_path)
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(ValueError, match="--backend milvus"):
        REGISTRY["faiss"].index(plain, settings, NO_METRICS)
