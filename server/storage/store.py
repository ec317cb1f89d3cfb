"""SQLite store (through sqlite-utils): the source of truth, vectors included.

A video, its scenes and its sampled frames are written in ONE transaction, so a video is
either wholly present or absent. Every write bumps `generation`, which the saved FAISS index
records, so a stale index is detected and rebuilt from here.

Durability: WAL journal with synchronous=NORMAL. A process crash loses nothing committed; a
power loss can lose the last transactions committed before the WAL was checkpointed, never
corrupt the file. Set SCENESEARCH_SQLITE_SYNC=FULL to trade write speed for that last margin.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from scenesearch.server.domain import IngestResult, Scene, Vectors, Video
from scenesearch.server.errors import ModelMismatch, NotFound
from scenesearch.server.storage.layout import MMAP_BYTES, PAGE_SIZE, migrate_page_size
from scenesearch.server.storage.schema import (
    SCHEMA,
    SCHEMA_VERSION,
    FrameMatrix,
    from_blobs,
    scene_from_row,
    to_blob,
    video_from_row,
)

# Ids per statement in batched lookups (SQLite allows 32,766 bound parameters).
CHUNK = 4096


class Store:
    """Thread-safe access to one data dir's database: a connection per thread, one writer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self.dim = 0

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        data_dir.mkdir(parents=True, exist_ok=True)
        store = cls(data_dir / "scenesearch.db")
        migrate_page_size(store.path)  # before any connection of ours holds the file
        db = store.db
        db.conn.executescript(SCHEMA)
        with store.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?), ('generation', '0')",
                (str(SCHEMA_VERSION),),
            )
        store.dim = int(store.meta("dimension") or 0)
        return store

    @property
    def db(self) -> sqlite_utils.Database:
        db: sqlite_utils.Database | None = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(
                self.path, check_same_thread=False, timeout=30.0, isolation_level=None
            )
            # Only takes effect on a new, empty file: see storage/layout.py.
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            sync = os.environ.get("SCENESEARCH_SQLITE_SYNC", "NORMAL").upper()
            conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'FULL' else 'NORMAL'}")
            conn.execute("PRAGMA foreign_keys=ON")
            db = sqlite_utils.Database(conn)
            self._local.db = db
        return db

    @contextmanager
    def write(self, searchable: bool = True) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, rolled back on any error. A write that changes what is
        searchable bumps the generation the saved index is checked against."""
        conn = self.db.conn
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                if searchable:
                    conn.execute(
                        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                        "WHERE key = 'generation'"
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def generation(self) -> int:
        return int(self.meta("generation") or 0)

    def bind_model(self, model_id: str, dim: int) -> None:
        """Record the model on first use; refuse a different one afterwards (invariant 3)."""
        stored_model, stored_dim = self.meta("model"), self.meta("dimension")
        if stored_model is None:
            with self.write() as conn:
                conn.execute(
                    "INSERT INTO meta VALUES ('model', ?), ('dimension', ?)", (model_id, str(dim))
                )
        elif stored_model != model_id or int(stored_dim or 0) != dim:
            raise ModelMismatch(
                f"data dir {self.path.parent} was built with model {stored_model!r} "
                f"(dimension {stored_dim}); it cannot be opened with {model_id!r} "
                f"(dimension {dim}) because their vectors are not comparable. Start the server "
                f"with --model {stored_model!r}, or use a new --data-dir for the new model."
            )
        self.dim = dim

    # --- videos -------------------------------------------------------------------------

    def video_by_hash(self, content_hash: str) -> Video | None:
        rows = list(self.db["videos"].rows_where("content_hash = ?", [content_hash]))
        return video_from_row(rows[0]) if rows else None

    def reserve_video(self, path: str, content_hash: str) -> tuple[Video | None, int]:
        """(existing ready video, 0) for known content, else (None, a reserved video id)."""
        with self.write(searchable=False) as conn:
            row = conn.execute(
                "SELECT id, status FROM videos WHERE content_hash = ?", (content_hash,)
            ).fetchone()
            if row is not None and row[1] == "ready":
                return self.get_video(int(row[0])), 0
            if row is not None:  # a reservation left by an interrupted ingest of these bytes
                return None, int(row[0])
            cur = conn.execute(
                "INSERT INTO videos (path, content_hash, duration_s, fps, width, height, "
                "frame_count, scene_count, sample_count, ingested_at, status) "
                "VALUES (?, ?, 0, 0, 0, 0, 0, 0, 0, ?, 'ingesting')",
                (path, content_hash, time.time()),
            )
            return None, int(cur.lastrowid or 0)

    def discard_reservations(self, video_id: int | None = None) -> int:
        """Drop one (or every) 'ingesting' row: a failed or interrupted ingest."""
        where, args = (
            ("status = 'ingesting'", [])
            if video_id is None
            else ("status = 'ingesting' AND id = ?", [video_id])
        )
        with self.write(searchable=False) as conn:
            return int(conn.execute(f"DELETE FROM videos WHERE {where}", args).rowcount)

    def add_video(self, video_id: int, result: IngestResult) -> tuple[Video, list[int]]:
        """Commit a whole ingest result atomically into a reserved row; returns the video and
        its scene ids."""
        info = result.info
        with self.write() as conn:
            updated = conn.execute(
                "UPDATE videos SET duration_s = ?, fps = ?, width = ?, height = ?, "
                "frame_count = ?, scene_count = ?, sample_count = ?, rotation = ?, "
                "ingested_at = ?, status = 'ready' WHERE id = ? AND status = 'ingesting'",
                (
                    info.duration_s,
                    info.fps,
                    info.width,
                    info.height,
                    info.frame_count,
                    len(result.scenes),
                    len(result.frames),
                    info.rotation,
                    time.time(),
                    video_id,
                ),
            ).rowcount
            if not updated:
                raise NotFound(f"video {video_id} has no pending ingest to commit")
            scene_ids: list[int] = []
            for span, vector in zip(result.scenes, result.scene_vectors, strict=True):
                cur = conn.execute(
                    "INSERT INTO scenes (video_id, idx, start_s, end_s, start_frame, end_frame,"
                    " vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        video_id,
                        span.index,
                        span.start_s,
                        span.end_s,
                        span.start_frame,
                        span.end_frame,
                        to_blob(vector),
                    ),
                )
                scene_ids.append(int(cur.lastrowid or 0))
            conn.executemany(
                "INSERT INTO frames (video_id, scene_id, frame_no, time_s, vector) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (video_id, scene_ids[f.scene_index], f.frame_no, f.time_s, to_blob(v))
                    for f, v in zip(result.frames, result.frame_vectors, strict=True)
                ],
            )
        return self.get_video(video_id), scene_ids

    def delete_video(self, video_id: int) -> list[int]:
        """Delete a video with its scenes and frames; returns the removed scene ids."""
        with self.write() as conn:
            ids = [
                r[0] for r in conn.execute("SELECT id FROM scenes WHERE video_id = ?", (video_id,))
            ]
            if conn.execute("DELETE FROM videos WHERE id = ?", (video_id,)).rowcount == 0:
                raise NotFound(
                    f"video {video_id} does not exist; `scenesearch videos list` shows the ids"
                )
        return ids

    def get_video(self, video_id: int) -> Video:
        rows = list(self.db["videos"].rows_where("id = ?", [video_id]))
        if not rows:
            raise NotFound(
                f"video {video_id} does not exist; `scenesearch videos list` shows the ids"
            )
        return video_from_row(rows[0])

    def list_videos(self) -> list[Video]:
        return [video_from_row(r) for r in self.db["videos"].rows_where(order_by="id")]

    def ready_video_ids(self) -> list[int]:
        return [
            r[0]
            for r in self.db.execute("SELECT id FROM videos WHERE status = 'ready' ORDER BY id")
        ]

    # --- scenes and frames --------------------------------------------------------------

    def scenes_of_video(self, video_id: int) -> list[Scene]:
        return [
            scene_from_row(r)
            for r in self.db["scenes"].rows_where(
                "video_id = ?",
                [video_id],
                order_by="idx",
                select="id, video_id, idx, start_s, end_s, start_frame, end_frame",
            )
        ]

    def scenes_by_ids(self, ids: Sequence[int]) -> dict[int, tuple[Scene, str]]:
        """Committed scenes among `ids`, with their video's path; unknown ids are absent.
        One statement per CHUNK ids."""
        conn = self.db.conn
        rows: list[tuple[int, int, int, float, float, int, int]] = []
        for chunk in _chunks(ids):
            rows += conn.execute(
                "SELECT id, video_id, idx, start_s, end_s, start_frame, end_frame FROM scenes "
                f"WHERE id IN ({_marks(chunk)})",
                chunk,
            ).fetchall()
        videos = sorted({row[1] for row in rows})
        paths: dict[int, str] = {}
        for chunk in _chunks(videos):
            paths.update(
                conn.execute(f"SELECT id, path FROM videos WHERE id IN ({_marks(chunk)})", chunk)
            )
        return {
            row[0]: (Scene(*row), paths[row[1]])
            for row in rows
            if row[1] in paths  # the scene's video was deleted between the two reads
        }

    def scene_vector(self, scene_id: int) -> tuple[Scene, Vectors]:
        row = self.db.conn.execute(
            "SELECT id, video_id, idx, start_s, end_s, start_frame, end_frame, vector "
            "FROM scenes WHERE id = ?",
            (scene_id,),
        ).fetchone()
        if row is None:
            raise NotFound(
                f"scene {scene_id} does not exist; scene ids are shown by "
                "`scenesearch search` and `scenesearch videos show`"
            )
        return Scene(*row[:7]), from_blobs([row[7]], self.dim)[0]

    def lookup_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, Vectors]:
        """Stored vectors of the committed scenes among `ids`, in the order given."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        rows: list[tuple[int, bytes]] = []
        for chunk in _chunks(wanted.tolist()):
            rows.extend(
                self.db.conn.execute(
                    f"SELECT id, vector FROM scenes WHERE id IN ({_marks(chunk)})", chunk
                ).fetchall()
            )
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float32)
        got = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        order = np.argsort(got, kind="stable")
        sorted_got = got[order]
        pos = np.searchsorted(sorted_got, wanted)
        present = (pos < len(sorted_got)) & (sorted_got[np.minimum(pos, len(got) - 1)] == wanted)
        rows_in_order = order[pos[present]]
        vectors = from_blobs([rows[i][1] for i in rows_in_order.tolist()], self.dim)
        return wanted[present], vectors

    def scene_video_pairs(self, after_id: int) -> np.ndarray:
        """(n, 2) array of (scene id, video id) for every scene with id > after_id."""
        rows = self.db.conn.execute(
            "SELECT id, video_id FROM scenes WHERE id > ? ORDER BY id", (after_id,)
        ).fetchall()
        return np.array(rows, dtype=np.int64).reshape(-1, 2)

    def sample_scene_vectors(self, limit: int) -> Vectors:
        """Up to `limit` scene vectors drawn at random (for training quantisers)."""
        rows = self.db.execute(
            "SELECT vector FROM scenes ORDER BY random() LIMIT ?", (limit,)
        ).fetchall()
        return from_blobs([r[0] for r in rows], self.dim)

    def iter_scene_vectors(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, Vectors]]:
        """Every committed scene vector, in id order, a bounded batch at a time."""
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT id, vector FROM scenes WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield (
                np.array([r[0] for r in rows], dtype=np.int64),
                from_blobs([r[1] for r in rows], self.dim),
            )

    def frames_of_scenes(self, scene_ids: Sequence[int], ordered: bool = True) -> FrameMatrix:
        """The sampled frames of these scenes (CHUNK ids a query), in time order per video,
        or as stored when not `ordered` (no sort of the vectors: faster for many scenes)."""
        parts = [
            self._frames(f"scene_id IN ({_marks(chunk)})", chunk, ordered)
            for chunk in _chunks(scene_ids)
        ]
        if len(parts) == 1:
            return parts[0]
        return FrameMatrix(
            times_s=np.concatenate([p.times_s for p in parts] or [np.zeros(0)]),
            vectors=np.concatenate(
                [p.vectors for p in parts] or [np.zeros((0, self.dim), np.float32)]
            ),
            scene_ids=np.concatenate([p.scene_ids for p in parts] or [np.zeros(0, np.int64)]),
        )

    def frames_of_video(self, video_id: int) -> FrameMatrix:
        return self._frames("video_id = ?", [video_id])

    def _frames(self, where: str, args: list[Any], ordered: bool = True) -> FrameMatrix:
        order = " ORDER BY video_id, frame_no" if ordered else ""
        rows = self.db.conn.execute(
            f"SELECT time_s, scene_id, vector FROM frames WHERE {where}{order}", args
        ).fetchall()
        return FrameMatrix(
            times_s=np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows)),
            vectors=from_blobs([r[2] for r in rows], self.dim),
            scene_ids=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
        )

    def counts(self) -> tuple[int, int, int]:
        row = self.db.execute(
            "SELECT (SELECT COUNT(*) FROM videos WHERE status = 'ready'), "
            "(SELECT COUNT(*) FROM scenes), "
            "(SELECT COUNT(*) FROM frames)"
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])


def _chunks(ids: Sequence[int] | np.ndarray) -> Iterator[list[int]]:
    values = [int(i) for i in ids]
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _marks(chunk: Sequence[int]) -> str:
    return ",".join("?" * len(chunk))
