"""SQLite store (through sqlite-utils): the source of truth, vectors included.

A video, its scenes and its sampled frames are written in ONE transaction, so a video is
either wholly present or absent. Every write bumps `generation`, which the saved FAISS index
records, so a stale index is detected and rebuilt from here.

Durability: WAL journal with synchronous=NORMAL. A process crash loses nothing committed; a
power loss can lose the last transactions committed before the WAL was checkpointed, never
corrupt the file. Set SCENESEARCH_SQLITE_SYNC=FULL to trade write speed for that last margin.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import sqlite_utils

from scenesearch.server.domain import IngestResult, Scene, Vectors, Video
from scenesearch.server.errors import ModelMismatch, NotFound
from scenesearch.server.storage.layout import MMAP_BYTES, PAGE_SIZE, migrate_page_size
from scenesearch.server.storage.schema import (
    SCHEMA,
    SCHEMA_VERSION,
    scene_from_row,
    video_from_row,
)
from scenesearch.server.storage.vector_reads import SqliteVectors, chunked, placeholders
from scenesearch.server.storage.vectors import VectorsOfStore, VectorStore, VectorStoreFactory

log = logging.getLogger(__name__)


class Store(VectorsOfStore):
    """Thread-safe access to one data dir's database: a connection per thread, one writer.
    The vectors live in `self.vectors` (SQLite rows by default; see storage/vectors.py)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self.dim = 0
        self.vectors: VectorStore = SqliteVectors(lambda: self.db)

    @classmethod
    def open(cls, data_dir: Path, vectors: VectorStoreFactory | None = None) -> Store:
        data_dir.mkdir(parents=True, exist_ok=True)
        store = cls(data_dir / "scenesearch.db")
        migrate_page_size(store.path)  # before any connection of ours holds the file
        db = store.db
        db.conn.executescript(SCHEMA)
        with store.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?), ('generation', '0'), "
                "('store_id', ?)",
                (str(SCHEMA_VERSION), uuid.uuid4().hex[:12]),
            )
        store.dim = int(store.meta("dimension") or 0)
        if vectors is not None:
            store.vectors = vectors(store)
        if store.dim:
            store.vectors.bind(store.dim)
            store.purge_vectors()
        return store

    @property
    def store_id(self) -> str:
        """Names this store's data outside the file (Milvus collections): two stores, e.g.
        two model generations of one data dir, never share them."""
        return self.meta("store_id") or ""

    def purge_vectors(self) -> None:
        """Drop vectors of videos the catalog does not show as ready: an ingest or a delete
        that a crash interrupted between the catalog and the vector store."""
        rows = self.db.execute(
            "SELECT id FROM videos WHERE status = 'ingesting' "
            "UNION SELECT video_id FROM vector_deletes"
        ).fetchall()
        video_ids = [int(r[0]) for r in rows]
        if not video_ids:
            return
        log.info("dropping the stored vectors of %d videos that are not ready", len(video_ids))
        self.vectors.purge(video_ids)
        with self.write(searchable=False) as conn:
            conn.executemany(
                "DELETE FROM vector_deletes WHERE video_id = ?", [(v,) for v in video_ids]
            )

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
        self.vectors.bind(dim)

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
            if row is not None and row[1] == "kept":  # a re-embed kept it without vectors
                # (its file was gone): ingesting the file again fills it in, under its id
                conn.execute("UPDATE videos SET status = 'ingesting' WHERE id = ?", (row[0],))
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
        written = False
        try:
            with self.write() as conn:
                scene_ids = self._insert_video(conn, video_id, result)
                written = True  # from here the vector store may hold rows of this video
                self.vectors.write_video(video_id, scene_ids, result)
        except BaseException:
            if written:  # the catalog did not commit: drop the vectors again
                self._drop_uncommitted(video_id)
            raise
        return self.get_video(video_id), scene_ids

    def _drop_uncommitted(self, video_id: int) -> None:
        """Vectors of a commit that failed; if the vector store fails too, the video is
        recorded for purge_vectors, since its scene ids may be handed out again."""
        try:
            self.vectors.delete_video(video_id)
        except Exception:
            log.exception("could not drop the vectors of video %d; dropped at next start", video_id)
            with self.write(searchable=False) as conn:
                conn.execute("INSERT OR IGNORE INTO vector_deletes VALUES (?)", (video_id,))

    def _insert_video(
        self, conn: sqlite3.Connection, video_id: int, result: IngestResult
    ) -> list[int]:
        info, blob = result.info, self.vectors.blob
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
                    blob(vector),
                ),
            )
            scene_ids.append(int(cur.lastrowid or 0))
        conn.executemany(
            "INSERT INTO frames (video_id, scene_id, frame_no, time_s, vector) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (video_id, scene_ids[f.scene_index], f.frame_no, f.time_s, blob(v))
                for f, v in zip(result.frames, result.frame_vectors, strict=True)
            ],
        )
        return scene_ids

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
            conn.execute("INSERT OR IGNORE INTO vector_deletes VALUES (?)", (video_id,))
        # The catalog no longer shows the video; a crash here leaves its vectors to
        # purge_vectors at the next start.
        self.vectors.delete_video(video_id)
        with self.write(searchable=False) as conn:
            conn.execute("DELETE FROM vector_deletes WHERE video_id = ?", (video_id,))
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
        for chunk in chunked(ids):
            rows += conn.execute(
                "SELECT id, video_id, idx, start_s, end_s, start_frame, end_frame FROM scenes "
                f"WHERE id IN ({placeholders(chunk)})",
                chunk,
            ).fetchall()
        videos = sorted({row[1] for row in rows})
        paths: dict[int, str] = {}
        for chunk in chunked(videos):
            paths.update(
                conn.execute(
                    f"SELECT id, path FROM videos WHERE id IN ({placeholders(chunk)})", chunk
                )
            )
        return {
            row[0]: (Scene(*row), paths[row[1]])
            for row in rows
            if row[1] in paths  # the scene's video was deleted between the two reads
        }

    def scene_vector(self, scene_id: int) -> tuple[Scene, Vectors]:
        row = self.db.conn.execute(
            "SELECT s.id, s.video_id, s.idx, s.start_s, s.end_s, s.start_frame, s.end_frame "
            "FROM scenes s JOIN videos v ON v.id = s.video_id "
            "WHERE s.id = ? AND v.status = 'ready'",
            (scene_id,),
        ).fetchone()
        found, vectors = self.vectors.lookup_vectors(np.asarray([scene_id], dtype=np.int64))
        if row is None or len(found) == 0:
            raise NotFound(
                f"scene {scene_id} does not exist; scene ids are shown by "
                "`scenesearch search` and `scenesearch videos show`"
            )
        return Scene(*row), vectors[0]

    def counts(self) -> tuple[int, int, int]:
        """Ready videos, scenes, frames. Frames are the ready videos' sample counts, committed
        in the same transaction as exactly that many frame rows: no scan of the largest
        table on every GetStats (replicas poll it), and right for a replica's mirror, which
        keeps no frame rows."""
        row = self.db.execute(
            "SELECT (SELECT COUNT(*) FROM videos WHERE status = 'ready'), "
            "(SELECT COUNT(*) FROM scenes), "
            "(SELECT COALESCE(SUM(sample_count), 0) FROM videos WHERE status = 'ready')"
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])
