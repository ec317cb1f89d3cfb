"""Search parameters tuned to a recall target at build time (server/index/tuning.py), on real
FAISS indexes built from a real store: the probe's truth, the smallest knob meeting the
target, a knob the user set left alone, and the tuned value surviving a save and a load."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from scenesearch.server.index import tuning
from scenesearch.server.index.hnsw import HnswIndex
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.storage.store import Store
from scenesearch.server.vector_maths import normalise
from tests.support.library import build_library

DIM = 32


def test_truth_is_the_exact_top_k_without_the_query_itself() -> None:
    rng = np.random.default_rng(0)
    vectors = normalise(rng.normal(size=(3000, DIM)).astype(np.float32))
    ids = np.arange(10, 3010)
    queries = np.concatenate([vectors[[5, 700, 2999]], normalise(rng.normal(size=(2, DIM)))])
    builder = tuning.TruthBuilder(queries.astype(np.float32))
    bounds = [0, 7, *range(519, 3000, 512), 3000]  # in batches, as a build reads them
    for start, end in itertools.pairwise(bounds):
        builder.add(ids[start:end], vectors[start:end])
    probe = builder.probe()
    assert probe.own_ids.tolist() == [15, 710, 3009, -1, -1]
    for row, query in enumerate(queries):
        scores = vectors @ query
        scores[ids == probe.own_ids[row]] = -np.inf
        expected = ids[np.argsort(-scores, kind="stable")[: tuning.K]]
        assert sorted(probe.truth[row].tolist()) == sorted(expected.tolist())
    assert tuning.recall(np.c_[probe.own_ids, probe.truth], probe) == 1.0


def test_tuning_picks_the_smallest_efsearch_meeting_the_target() -> None:
    rng = np.random.default_rng(1)
    vectors = normalise(rng.normal(size=(6000, DIM)).astype(np.float32))
    ids = np.arange(1, 6001)
    index = HnswIndex(DIM, m=4, ef_construction=16, ef_search=2, tunable=True)  # a poor graph
    index.add(ids, vectors)
    builder = tuning.TruthBuilder(vectors[rng.choice(6000, 100, replace=False)])
    builder.add(ids, vectors)
    probe = builder.probe()

    def recall_at(ef: int) -> float:
        return tuning.recall(index._search(probe.queries, tuning.K + 1, None, ef)[1], probe)

    index.tune(probe)
    assert index.tuned is not None and index.ef_search == index.tuned.value > 2
    assert recall_at(index.ef_search) == index.tuned.recall >= tuning.TARGET_RECALL
    steps = tuning.ladder(2, 1024)
    assert recall_at(steps[steps.index(index.ef_search) - 1]) < tuning.TARGET_RECALL
    assert "efSearch" in index.note() and "meets" in index.note()


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    build_library(tmp_path, videos=60, scenes_per_video=100, frames_per_scene=1, dim=DIM)
    return Store.open(tmp_path)


@pytest.mark.parametrize(
    ("kind", "params", "knob", "top"),
    [
        ("hnsw", {"M": "8", "efConstruction": "40"}, "efSearch", "1024"),
        ("ivfpq", {"nlist": "64", "m": "8"}, "nprobe", "32"),  # up to half the lists
    ],
)
def test_a_build_tunes_and_the_tuned_value_is_saved(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    params: dict[str, str],
    knob: str,
    top: str,
) -> None:
    built = LiveIndex(store, tmp_path, kind, params)
    built.open()  # no saved index: a build, then a probe of its recall
    assert "meets the 0.95 target" in built.note(), built.note()

    monkeypatch.setattr(tuning, "TARGET_RECALL", 1.01)  # out of reach: the ladder's top
    built.rebuild(kind, params)
    assert built.params()[knob] == top and "falls short" in built.note()
    loaded = LiveIndex(store, tmp_path, kind, params)
    loaded.open()  # the saved index, with the value tuned at its build
    assert loaded.params()[knob] == top


def test_a_knob_the_user_set_is_left_alone(store: Store, tmp_path: Path) -> None:
    params = {"M": "8", "efConstruction": "40", "efSearch": "20"}
    index = LiveIndex(store, tmp_path, "hnsw", params)
    index.open()
    assert index.params()["efSearch"] == "20" and "tuned" not in index.note()
