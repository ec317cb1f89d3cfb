"""Writes into the target generation: a video with its source ids, in one transaction with
its 'done' mark; kept and dropped videos; deletions; the id counters.

Vectors go through the target store's VectorStore (SQLite rows, or Milvus collections named
by the target's own store id), inside the catalog transaction, as Store.add_video does.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence

import numpy as np

from scenesearch.server.domain import IngestResult, Video
from scenesearch.server.errors import NotFound
from scenesearch.server.reembed.frames import StoredIds
from scenesearch.server.reembed.state import VideoState
from scenesearch.server.storage.store import Store
from scenesearch.server.storage.thumbnails import ThumbnailTable

VIDEO_COLUMNS = (
    "id, path, content_hash, duration_s, fps, width, height, frame_count, scene_count, "
    "sample_count, rotation, ingested_at, status"
)


def _insert_video(conn: sqlite3.Connection, video: Video, status: str) -> None:
    conn.execute("DELETE FROM videos WHERE id = ?", (video.id,))  # a kept row made ready
    conn.execute(
        f"INSERT INTO videos ({VIDEO_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            video.id,
            video.path,
            video.content_hash,
            video.duration_s,
            video.fps,
            video.width,
            video.height,
            video.frame_count,
            video.scene_count,
            video.sample_count,
            video.rotation,
            video.ingested_at,
            status,
        ),
    )


def _mark(conn: sqlite3.Connection, video_id: int, state: VideoState, reason: str = "") -> None:
    conn.execute(
        "UPDATE reembed_videos SET state = ?, reason = ? WHERE video_id = ?",
        (state.value, reason, video_id),
    )


def commit_video(target: Store, video: Video, result: IngestResult, ids: StoredIds) -> None:
    """The video, its scenes and frames under their source ids, and its 'done' mark."""
    blob, written = target.vectors.blob, False
    try:
        with target.write() as conn:
            _insert_rows(conn, blob, video, result, ids)
            written = True
            target.vectors.write_video(video.id, list(ids.scene_ids), result)
    except BaseException:
        if written:  # the catalog did not commit: drop the vectors again
            target.vectors.delete_video(video.id)
        raise


def _insert_rows(
    conn: sqlite3.Connection,
    blob: Callable[[np.ndarray], bytes],
    video: Video,
    result: IngestResult,
    ids: StoredIds,
) -> None:
    _insert_video(conn, video, "ready")
    conn.executemany(
        "INSERT INTO scenes (id, video_id, idx, start_s, end_s, start_frame, end_frame, "
        "vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                scene_id,
                video.id,
                span.index,
                span.start_s,
                span.end_s,
                span.start_frame,
                span.end_frame,
                blob(vector),
            )
            for scene_id, span, vector in zip(
                ids.scene_ids, result.scenes, result.scene_vectors, strict=True
            )
        ],
    )
    conn.executemany(
        "INSERT INTO frames (id, video_id, scene_id, frame_no, time_s, vector) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (frame_id, video.id, ids.scene_ids[f.scene_index], f.frame_no, f.time_s, blob(v))
            for frame_id, f, v in zip(
                ids.frame_ids, result.frames, result.frame_vectors, strict=True
            )
        ],
    )
    _mark(conn, video.id, VideoState.DONE)


def settle_unavailable(target: Store, video: Video, keep: bool, reason: str) -> None:
    """A video whose source is gone: listed without vectors (kept) or left out (dropped)."""
    with target.write() as conn:
        if keep:
            _insert_video(conn, video, "kept")
        _mark(conn, video.id, VideoState.KEPT if keep else VideoState.DROPPED, reason)


def remove_videos(target: Store, video_ids: list[int]) -> None:
    """Videos deleted from the source generation while the move ran."""
    for video_id in video_ids:
        with contextlib.suppress(NotFound):  # planned but not moved yet
            target.delete_video(video_id)
    with target.write(searchable=False) as conn:
        conn.executemany("DELETE FROM reembed_videos WHERE video_id = ?", [(v,) for v in video_ids])


def copy_id_counters(source: Store, target: Store) -> None:
    """Ids are never reused (AUTOINCREMENT): the target's counters start where the source's
    are, including ids of videos deleted before the move."""
    rows = source.db.conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
    with target.write(searchable=False) as conn:
        for name, seq in rows:
            if conn.execute("SELECT 1 FROM sqlite_sequence WHERE name = ?", (name,)).fetchone():
                conn.execute(
                    "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?", (seq, name)
                )
            else:
                conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, seq))


def copy_thumbnails(source: Store, target: Store, scene_ids: Sequence[int]) -> None:
    """Thumbnails do not depend on the model: the moved scenes keep theirs (made again on
    request if this is interrupted, as for data dirs from before thumbnails)."""
    have, into = ThumbnailTable(source), ThumbnailTable(target)
    for scene_id in scene_ids:
        thumbnail = have.get(scene_id)
        if thumbnail is not None:
            into.put(scene_id, thumbnail)
