"""Bulk reads of stored vectors: for the index (lookups, training samples, rebuilds) and for
queries (the frames of scenes or videos). A mixin of Store, kept apart so each file stays
about one thing; it needs only the connection and the dimension."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import sqlite_utils

from scenesearch.server.domain import Vectors
from scenesearch.server.storage.schema import FrameMatrix, from_blobs

CHUNK = 4096  # ids per SQL statement: well under SQLite's variable limit


class VectorReads:
    dim: int

    @property
    def db(self) -> sqlite_utils.Database:
        raise NotImplementedError

    def lookup_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, Vectors]:
        """Stored vectors of the committed scenes among `ids`, in the order given."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        rows: list[tuple[int, bytes]] = []
        for chunk in chunked(wanted.tolist()):
            rows.extend(
                self.db.conn.execute(
                    f"SELECT id, vector FROM scenes WHERE id IN ({placeholders(chunk)})", chunk
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
            self._frames(f"scene_id IN ({placeholders(chunk)})", chunk, ordered)
            for chunk in chunked(scene_ids)
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


def chunked(ids: Sequence[int] | np.ndarray) -> Iterator[list[int]]:
    values = [int(i) for i in ids]
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def placeholders(chunk: Sequence[int]) -> str:
    return ",".join("?" * len(chunk))
