"""The SQLite VectorStore (the embedded default): vectors are BLOBs in the catalog's own
scene and frame rows, so they commit and delete with them in the same transaction.
Bulk reads serve the index (lookups, training samples, rebuilds) and queries (the frames of
scenes or videos). A serving store also keeps read copies of the scene and frame vectors
(vector_cache.py), which answer the lookups that searches make once they are built."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from scenesearch.server.domain import IngestResult, Vectors
from scenesearch.server.storage.schema import FrameMatrix, from_blobs, to_blob
from scenesearch.server.storage.vector_cache import FRAMES, SCENES, VectorCache

CHUNK = 4096  # ids per SQL statement: well under SQLite's variable limit


class SqliteVectors:
    name = "sqlite"

    def __init__(self, db: Callable[[], sqlite_utils.Database]) -> None:
        self._db = db  # the store's per-thread connection
        self.dim = 0
        self._scene_cache: VectorCache | None = None
        self._frame_cache: VectorCache | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        return self._db()

    def bind(self, dim: int) -> None:
        self.dim = dim

    def blob(self, vector: np.ndarray) -> bytes:
        return to_blob(vector)

    def cache_reads(self, generation: Callable[[], int], directory: Path) -> None:
        """Keep read copies of the scene and frame vectors (built in the background)."""
        self._scene_cache, self._frame_cache = (
            VectorCache(table, lambda: self.db.conn, generation, self.dim, directory)
            for table in (SCENES, FRAMES)
        )
        self._scene_cache.start()
        self._frame_cache.start()

    def warming(self) -> bool:
        caches = (self._scene_cache, self._frame_cache)
        return any(c is not None and not c.ready.is_set() and not c.failed for c in caches)

    def write_video(self, video_id: int, scene_ids: Sequence[int], result: IngestResult) -> None:
        """Nothing to do: the rows the transaction inserts carry their vectors."""

    def delete_video(self, video_id: int) -> None:
        """Nothing to do: the rows, vectors included, went with the catalog's delete."""

    def purge(self, video_ids: Sequence[int]) -> None:
        """Nothing to do: a video that is not ready has no rows."""

    def scene_scores(
        self, ids: np.ndarray, vector: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        cache = self._scene_cache
        return cache.scores_of(ids, vector) if cache is not None else None

    def lookup_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, Vectors]:
        """Stored vectors of the committed scenes among `ids`, in the order given."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        cached = self._scene_cache.rows_of(wanted) if self._scene_cache is not None else None
        if cached is not None:
            found, order = in_given_order(wanted, cached.groups)
            if np.array_equal(order, np.arange(len(cached.groups))):
                return found, cached.vectors  # asked sorted and unique, as plans do: no copy
            return found, cached.vectors[order]
        rows: list[tuple[int, bytes]] = []
        for chunk in chunked(wanted.tolist()):
            rows.extend(
                self.db.conn.execute(
                    f"SELECT id, vector FROM scenes WHERE id IN ({placeholders(chunk)})", chunk
                ).fetchall()
            )
        got = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        found, order = in_given_order(wanted, got)
        return found, from_blobs([rows[i][1] for i in order.tolist()], self.dim)

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
        cached = self._frame_cache.rows_of(scene_ids) if self._frame_cache and not ordered else None
        if cached is not None:  # grouped by scene, in time order within one
            return FrameMatrix(
                times_s=cached.order, vectors=cached.vectors, scene_ids=cached.groups
            )
        return concat_frames(
            [
                self._frames(f"scene_id IN ({placeholders(chunk)})", chunk, ordered)
                for chunk in chunked(scene_ids)
            ],
            self.dim,
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


def in_given_order(wanted: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ids of `wanted` present in `got` (in `wanted`'s order), and for each the row of
    `got` that holds it."""
    if len(got) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(got, kind="stable")
    sorted_got = got[order]
    pos = np.searchsorted(sorted_got, wanted)
    present = (pos < len(sorted_got)) & (sorted_got[np.minimum(pos, len(got) - 1)] == wanted)
    return wanted[present], order[pos[present]]


def concat_frames(parts: list[FrameMatrix], dim: int) -> FrameMatrix:
    if len(parts) == 1:
        return parts[0]
    return FrameMatrix(
        times_s=np.concatenate([p.times_s for p in parts] or [np.zeros(0)]),
        vectors=np.concatenate([p.vectors for p in parts] or [np.zeros((0, dim), np.float32)]),
        scene_ids=np.concatenate([p.scene_ids for p in parts] or [np.zeros(0, np.int64)]),
    )


def chunked(ids: Sequence[int] | np.ndarray) -> Iterator[list[int]]:
    values = [int(i) for i in ids]
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def placeholders(chunk: Sequence[int]) -> str:
    return ",".join("?" * len(chunk))
