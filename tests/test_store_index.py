"""SQLite store and the live FAISS index: atomic commits, persistence, stale rebuilds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scenesearch.server.domain import DecodedVideo, IngestResult, SampledFrame, SceneSpan, Video
from scenesearch.server.errors import ModelMismatch, NotFound
from scenesearch.server.index.base import read_envelope
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.storage.catalog import Catalog
from scenesearch.server.storage.store import Store
from scenesearch.server.vector_maths import normalise

DIM = 8


def fake_result(rng: np.random.Generator, scenes: int = 3, per_scene: int = 2) -> IngestResult:
    spans = tuple(SceneSpan(i, i * 30, (i + 1) * 30, float(i), float(i + 1)) for i in range(scenes))
    frames = tuple(
        SampledFrame(i * 30 + j * 15, i + j * 0.5, i)
        for i in range(scenes)
        for j in range(per_scene)
    )
    frame_vectors = normalise(rng.normal(size=(len(frames), DIM)))
    scene_vecs = normalise(frame_vectors.reshape(scenes, per_scene, DIM).mean(axis=1))
    return IngestResult(
        DecodedVideo(float(scenes), 30.0, 64, 48, scenes * 30),
        spans,
        frames,
        frame_vectors,
        scene_vecs,
    )


def commit(
    store: Store, catalog: Catalog, path: str, content_hash: str, result: IngestResult
) -> tuple[Video, bool]:
    """Reserve then commit, as an ingest job does; (video, created)."""
    existing, video_id = store.reserve_video(path, content_hash)
    if existing is not None:
        return existing, False
    return catalog.add(video_id, result), True


def open_catalog(data_dir: Path) -> tuple[Store, LiveIndex, Catalog]:
    store = Store.open(data_dir)
    store.bind_model("test-model", DIM)
    index = LiveIndex(store, data_dir, "flat", {})
    index.open()
    return store, index, Catalog(store, index)


def test_commit_is_whole_and_searchable(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    store, index, catalog = open_catalog(tmp_path)
    result = fake_result(rng)
    video, created = commit(store, catalog, "/v.mp4", "hash-a", result)
    assert created and video.scene_count == 3 and video.sample_count == 6
    scores, ids = index.search(result.scene_vectors[1:2], 1)
    scene_ids = [s.id for s in store.scenes_of_video(video.id)]
    assert ids[0][0] == scene_ids[1]
    assert scores[0][0] == pytest.approx(1.0, abs=1e-5)
    frames = store.frames_of_video(video.id)
    np.testing.assert_allclose(frames.vectors, result.frame_vectors, atol=1e-7)
    assert frames.times_s.tolist() == [f.time_s for f in result.frames]


def test_same_content_is_not_duplicated(tmp_path: Path) -> None:
    store, index, catalog = open_catalog(tmp_path)
    rng = np.random.default_rng(1)
    first, _ = commit(store, catalog, "/a.mp4", "same", fake_result(rng))
    second, created = commit(store, catalog, "/copy-of-a.mp4", "same", fake_result(rng))
    assert not created and second.id == first.id
    assert store.counts() == (1, 3, 6) and index.count() == 3


def test_failed_commit_leaves_nothing(tmp_path: Path) -> None:
    store, _, catalog = open_catalog(tmp_path)
    result = fake_result(np.random.default_rng(2))
    broken = IngestResult(
        result.info, result.scenes, result.frames, result.frame_vectors[:-1], result.scene_vectors
    )  # one vector short
    generation = store.generation()
    with pytest.raises(ValueError):
        commit(store, catalog, "/bad.mp4", "bad", broken)
    assert store.counts() == (0, 0, 0)
    assert store.generation() == generation
    # The reserved row is not a video: the job discards it, as does a restart.
    assert [v.status for v in store.list_videos()] == ["ingesting"]
    assert store.discard_reservations() == 1 and store.list_videos() == []


def test_delete_removes_from_store_and_index(tmp_path: Path) -> None:
    store, index, catalog = open_catalog(tmp_path)
    rng = np.random.default_rng(3)
    keep, _ = commit(store, catalog, "/keep.mp4", "k", fake_result(rng))
    gone, _ = commit(store, catalog, "/gone.mp4", "g", fake_result(rng))
    assert catalog.delete(gone.id) == 3
    assert store.counts() == (1, 3, 6) and index.count() == 3
    with pytest.raises(NotFound):
        store.get_video(gone.id)
    with pytest.raises(NotFound):
        catalog.delete(gone.id)
    _, ids = index.search(np.ones((1, DIM), dtype=np.float32), 10)
    assert {int(i) for i in ids[0] if i >= 0} == {s.id for s in store.scenes_of_video(keep.id)}


def test_ids_are_never_reused_after_delete(tmp_path: Path) -> None:
    store, _, catalog = open_catalog(tmp_path)
    rng = np.random.default_rng(4)
    first, _ = commit(store, catalog, "/1.mp4", "1", fake_result(rng))
    old_ids = {s.id for s in store.scenes_of_video(first.id)}
    catalog.delete(first.id)
    second, _ = commit(store, catalog, "/2.mp4", "2", fake_result(rng))
    assert second.id != first.id
    assert not old_ids & {s.id for s in store.scenes_of_video(second.id)}


def test_saved_index_round_trips_and_stale_file_is_rebuilt(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    store, index, catalog = open_catalog(tmp_path)
    commit(store, catalog, "/a.mp4", "a", fake_result(rng))
    assert index.save()
    header, _ = read_envelope(index.path)
    assert header["generation"] == store.generation() and header["count"] == 3
    query = normalise(rng.normal(size=(1, DIM)))
    expected = index.search(query, 3)

    # A write after the save makes the file stale: reopening must rebuild, not trust it.
    commit(store, catalog, "/b.mp4", "b", fake_result(rng))
    _, reopened, _ = open_catalog(tmp_path)
    assert reopened.count() == 6

    # Removing the file: rebuilt from SQLite with identical results.
    index.path.unlink()
    store2, rebuilt, catalog2 = open_catalog(tmp_path)
    catalog2.delete(store2.video_by_hash("b").id)  # type: ignore[union-attr]
    scores, ids = rebuilt.search(query, 3)
    np.testing.assert_array_equal(ids, expected[1])
    np.testing.assert_allclose(scores, expected[0], atol=1e-6)


def test_corrupt_index_file_is_rebuilt(tmp_path: Path) -> None:
    store, index, catalog = open_catalog(tmp_path)
    commit(store, catalog, "/a.mp4", "a", fake_result(np.random.default_rng(6)))
    index.save()
    index.path.write_bytes(b"garbage")
    _, reopened, _ = open_catalog(tmp_path)
    assert reopened.count() == 3


def test_data_dir_refuses_a_different_model(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.bind_model("model-a", 512)
    store.bind_model("model-a", 512)  # same model: fine
    with pytest.raises(ModelMismatch, match="model-a"):
        Store.open(tmp_path).bind_model("model-b", 512)
    with pytest.raises(ModelMismatch):
        Store.open(tmp_path).bind_model("model-a", 768)
