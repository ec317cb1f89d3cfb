"""The in-memory scene directory answers exactly what the equivalent SQL over the catalog
answers, before and after deletes, new videos and an ingest in progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scenesearch.server.query.scene_directory import SceneDirectory
from scenesearch.server.storage.store import Store
from tests.support.library import build_library


def sql_ids(store: Store, where: str = "1", args: tuple[object, ...] = ()) -> np.ndarray:
    rows = store.db.execute(
        "SELECT s.id FROM scenes s JOIN videos v ON v.id = s.video_id "
        f"WHERE v.status = 'ready' AND {where} ORDER BY s.id",
        args,
    ).fetchall()
    return np.asarray([r[0] for r in rows], dtype=np.int64)


def check(store: Store, directory: SceneDirectory, rng: np.random.Generator) -> None:
    videos = [r[0] for r in store.db.execute("SELECT id FROM videos").fetchall()]
    for size in (1, 3, len(videos) // 2, len(videos)):
        chosen = sorted(rng.choice(videos, size=size, replace=False).tolist())
        expected = sql_ids(store, f"s.video_id IN ({','.join(map(str, chosen))})")
        np.testing.assert_array_equal(directory.scenes_of(chosen), expected)
        assert directory.count_of(chosen) == len(expected)
        every = sql_ids(store)
        probe = np.concatenate([every[::3], [0, int(every.max()) + 5]])
        mask = directory.of_videos(probe, np.asarray(chosen, dtype=np.int64))
        np.testing.assert_array_equal(probe[mask], np.intersect1d(probe, expected))
        for start, end in ((0.0, None), (2.5, 4.0), (3.0, 3.0), (7.2, 19.9)):
            in_videos = ",".join(map(str, chosen))
            where, args = f"s.end_s > ? AND s.video_id IN ({in_videos})", [start]
            if end is not None:
                where, args = where + " AND s.start_s <= ?", [*args, end]
            got = directory.overlapping(start, end, chosen)
            np.testing.assert_array_equal(got, sql_ids(store, where, tuple(args)))
    np.testing.assert_array_equal(
        directory.overlapping(2.5, 4.0), sql_ids(store, "s.end_s > 2.5 AND s.start_s <= 4.0")
    )
    every = sql_ids(store)
    table = directory.table()
    probe = np.concatenate([every[::7], [0, int(every.max()) + 5]])
    found, rows = table.positions(probe)
    assert found.tolist() == [True] * len(every[::7]) + [False, False]
    ints, floats = table.ints[rows].tolist(), table.floats[rows].tolist()
    for (sid, video, index, *_), (start_s, end_s) in zip(ints, floats, strict=True):
        stored = store.db.execute(
            "SELECT s.id, s.video_id, s.idx, s.start_s, s.end_s, v.path FROM scenes s "
            "JOIN videos v ON v.id = s.video_id WHERE s.id = ?",
            (sid,),
        ).fetchone()
        assert (sid, video, index, start_s, end_s, table.paths[video]) == stored


def test_directory_matches_the_catalog_through_deletes_and_new_videos(tmp_path: Path) -> None:
    build_library(tmp_path, videos=12, scenes_per_video=20, frames_per_scene=1, dim=8)
    store = Store.open(tmp_path)
    directory = SceneDirectory(store)
    rng = np.random.default_rng(3)
    check(store, directory, rng)

    store.delete_video(4)
    store.delete_video(12)  # the newest video: its ids are never reused
    check(store, directory, rng)
    assert len(directory.scenes_of([4, 12])) == 0

    with store.write() as conn:  # a new ready video, copying video 5's scene rows
        conn.execute(
            "INSERT INTO videos (id, path, content_hash, duration_s, fps, width, height, "
            "frame_count, scene_count, sample_count, ingested_at) "
            "SELECT 20, '/videos/new.mp4', 'new', duration_s, fps, width, height, frame_count,"
            " scene_count, sample_count, 1 FROM videos WHERE id = 5"
        )
        conn.execute(
            "INSERT INTO scenes (video_id, idx, start_s, end_s, start_frame, end_frame, vector) "
            "SELECT 20, idx, start_s + 0.5, end_s + 0.5, start_frame, end_frame, vector "
            "FROM scenes WHERE video_id = 5"
        )
        conn.execute(  # a reservation: an ingest in progress has no searchable scenes
            "INSERT INTO videos (id, path, content_hash, duration_s, fps, width, height, "
            "frame_count, scene_count, sample_count, ingested_at, status) "
            "VALUES (21, '/videos/busy.mp4', 'busy', 0, 0, 0, 0, 0, 0, 0, 1, 'ingesting')"
        )
    check(store, directory, rng)
    assert len(directory.scenes_of([20])) == 20
    assert len(directory.scenes_of([21])) == 0


@pytest.mark.parametrize("videos", [0, 1])
def test_directory_of_an_empty_or_tiny_library(tmp_path: Path, videos: int) -> None:
    if videos:
        build_library(tmp_path, videos=videos, scenes_per_video=3, frames_per_scene=1, dim=8)
    store = Store.open(tmp_path)
    directory = SceneDirectory(store)
    assert directory.scenes_of([1]).tolist() == ([1, 2, 3] if videos else [])
    found, _ = directory.table().positions(np.asarray([1, 99], np.int64))
    assert found.tolist() == [bool(videos), False]
    assert len(directory.overlapping(0.0, None)) == 3 * videos
