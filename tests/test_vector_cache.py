"""The vector caches answer exactly what SQLite holds for the committed scenes: before and
after deletes, new videos, frames committed out of id order, and the rebuild after mass
deletes; and a serving store's lookups and the search engine's best moments come from them
once they are built."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from scenesearch.server.storage.store import Store
from scenesearch.server.storage.vector_cache import FRAMES, SCENES, VectorCache
from tests.support.library import build_library


def committed_scenes(store: Store) -> list[int]:
    rows = store.db.execute(
        "SELECT s.id FROM scenes s JOIN videos v ON v.id = s.video_id "
        "WHERE v.status = 'ready' ORDER BY s.id"
    ).fetchall()
    return [r[0] for r in rows]


def new_caches(store: Store, tmp_path: Path) -> tuple[VectorCache, VectorCache]:
    caches = [
        VectorCache(table, lambda: store.db.conn, store.generation, store.dim, tmp_path)
        for table in (FRAMES, SCENES)
    ]
    for cache in caches:
        cache.start()
        assert cache.ready.wait(30)
    return caches[0], caches[1]


def check(store: Store, frames: VectorCache, scenes: VectorCache, rng: np.random.Generator) -> None:
    """Both caches against SQLite (read through the store, which has no caches itself)."""
    committed = committed_scenes(store)
    everything = [r[0] for r in store.db.execute("SELECT id FROM scenes").fetchall()]
    for size in (1, 5, len(committed) // 3, len(committed)):
        chosen = rng.choice(committed, size=size, replace=False)
        got = frames.rows_of(chosen)
        assert got is not None
        want = store.frames_of_scenes(sorted(chosen.tolist()), ordered=False)
        # by scene, then time (ties by id), as the cache orders them
        order = np.lexsort((want.times_s, want.scene_ids))
        np.testing.assert_array_equal(got.groups, want.scene_ids[order])
        np.testing.assert_array_equal(got.order, want.times_s[order])
        np.testing.assert_array_equal(got.vectors, want.vectors[order])
        # scenes, asked with deleted ones among them: only committed ones come back
        asked = np.concatenate([chosen, rng.choice(everything, size=size)])
        got_scenes = scenes.rows_of(asked)
        assert got_scenes is not None
        found, vectors = store.lookup_vectors(np.unique(asked))
        ready = np.isin(found, committed)
        np.testing.assert_array_equal(got_scenes.groups, found[ready])
        np.testing.assert_array_equal(got_scenes.vectors, vectors[ready])
        # scores: scattered ids (one gather) and whole runs of committed ids (scored in place)
        query = rng.normal(size=store.dim).astype(np.float32)
        for ids in (np.unique(asked), np.asarray(committed[: 2 * size + 20])):
            scored = scenes.scores_of(ids, query)
            assert scored is not None
            found, vectors = store.lookup_vectors(ids)
            ready = np.isin(found, committed)
            np.testing.assert_array_equal(scored[0], found[ready])
            np.testing.assert_allclose(scored[1], vectors[ready] @ query, rtol=1e-5, atol=1e-6)
    empty = frames.rows_of([10**9])
    assert empty is not None and len(empty.order) == 0


def add_video(store: Store, video_id: int, copy_of: int, reverse: bool = False) -> None:
    """A new ready video with its own scenes and frames, copied from `copy_of` (with
    `reverse`, each scene's frames are inserted latest first, as an importer might)."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO videos (id, path, content_hash, duration_s, fps, width, height, "
            "frame_count, scene_count, sample_count, ingested_at) "
            f"SELECT {video_id}, '/videos/{video_id}.mp4', 'h{video_id}', duration_s, fps, "
            f"width, height, frame_count, scene_count, sample_count, 1 FROM videos "
            f"WHERE id = {copy_of}"
        )
        conn.execute(
            "INSERT INTO scenes (video_id, idx, start_s, end_s, start_frame, end_frame, vector) "
            f"SELECT {video_id}, idx, start_s, end_s, start_frame, end_frame, vector "
            f"FROM scenes WHERE video_id = {copy_of} ORDER BY idx"
        )
        conn.execute(
            "INSERT INTO frames (video_id, scene_id, frame_no, time_s, vector) "
            f"SELECT {video_id}, n.id, f.frame_no, f.time_s, f.vector FROM frames f "
            "JOIN scenes o ON o.id = f.scene_id "
            f"JOIN scenes n ON n.video_id = {video_id} AND n.idx = o.idx "
            f"WHERE f.video_id = {copy_of} ORDER BY n.id, f.time_s {'DESC' if reverse else 'ASC'}"
        )


def test_cache_matches_sqlite_through_deletes_and_new_videos(tmp_path: Path) -> None:
    build_library(tmp_path, videos=10, scenes_per_video=15, frames_per_scene=3, dim=8)
    store = Store.open(tmp_path)
    store.dim = 8
    store.vectors.bind(8)
    frames, scenes = new_caches(store, tmp_path)
    rng = np.random.default_rng(5)
    check(store, frames, scenes, rng)

    store.delete_video(3)
    store.delete_video(10)
    check(store, frames, scenes, rng)
    add_video(store, 20, copy_of=4)
    add_video(store, 21, copy_of=5, reverse=True)  # a scene's frames out of time order
    check(store, frames, scenes, rng)

    with store.write() as conn:  # a scene already cached gains frames: a rebuild
        conn.execute(
            "INSERT INTO frames (video_id, scene_id, frame_no, time_s, vector) "
            "SELECT video_id, scene_id, frame_no + 1, time_s + 0.01, vector FROM frames "
            "WHERE scene_id = (SELECT MIN(id) FROM scenes WHERE video_id = 2)"
        )
    check(store, frames, scenes, rng)

    for video in (1, 2, 4, 5, 6, 7, 8):  # most deleted: the next refresh starts again
        store.delete_video(video)
    check(store, frames, scenes, rng)
    live_frames = store.db.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
    assert frames.size == live_frames  # the deleted videos' frames were dropped


def test_search_best_moments_come_from_the_cache(tmp_path: Path) -> None:
    """With a serving store's caches built, the engine's best moment of each hit is its frame
    most similar to the query (checked against SQLite's frames directly), and lookups answer
    as SQLite does."""
    from scenesearch.server.index.live import LiveIndex
    from scenesearch.server.query.search import SceneQuery, SearchEngine, SearchOptions

    build_library(tmp_path, videos=6, scenes_per_video=20, frames_per_scene=4, dim=16)
    store = Store.open(tmp_path)
    store.bind_model("synthetic", 16)
    plain = Store.open(tmp_path)  # the same db without caches: SQLite's answers
    plain.bind_model("synthetic", 16)
    assert not store.vectors.warming()  # nothing to build: no caches asked for
    store.vectors.cache_reads(store.generation, tmp_path)
    deadline = time.monotonic() + 30
    while store.vectors.warming() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not store.vectors.warming()
    index = LiveIndex(store, tmp_path / "index", "flat", {})
    index.open()
    engine = SearchEngine(store, index, texts=None, images=None)  # type: ignore[arg-type]
    result = engine.search(SceneQuery(7), SearchOptions(top_k=40))
    assert len(result.hits) == 40
    _, query = plain.scene_vector(7)
    for hit in result.hits:
        frames = plain.frames_of_scenes([hit.scene_id])
        sims = frames.vectors @ query
        assert hit.best_time_s == frames.times_s[int(np.argmax(sims))]
    ids = np.asarray([5, 900, 3, 3, 41], dtype=np.int64)  # 900 does not exist
    for got, want in zip(store.lookup_vectors(ids), plain.lookup_vectors(ids), strict=True):
        np.testing.assert_array_equal(got, want)
    assert len(store.lookup_vectors(ids)[0]) == 4
