"""The Milvus VectorStore (`--backend milvus`): scene and frame vectors in two collections,
with the scalar fields a search or a per-video read needs beside them (video id, scene index,
start/end, frame number and time), so filters run inside Milvus as expressions.

The catalog (SQLite) keeps the scene and frame rows without vectors and decides what is
visible; see storage/vectors.py for the write order. Collection names are the prefix plus the
store's own id (meta `store_id`), so two stores never share collections.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scenesearch.server.domain import IngestResult, Vectors
from scenesearch.server.storage.milvus_target import MilvusTarget, as_matrix, id_list
from scenesearch.server.storage.schema import FrameMatrix, from_blobs
from scenesearch.server.storage.vector_reads import CHUNK, chunked, concat_frames, in_given_order
from scenesearch.server.storage.vectors import CatalogView

log = logging.getLogger(__name__)

# meta key set once the catalog's vectors live in Milvus (the faiss backend then refuses the
# data dir: its rows hold no vectors).
MOVED_KEY = "vectors"
INSERT_BATCH = 4096  # rows per insert: a few MB per gRPC message
SCENE_FIELDS = ("id", "video_id", "idx", "start_s", "end_s")
FRAME_FIELDS = ("video_id", "scene_id", "frame_no", "time_s")


class MilvusVectors:
    name = "milvus"

    def __init__(self, store: CatalogView, target: MilvusTarget, read_only: bool = False) -> None:
        self._store = store  # the catalog: scene ids for rebuild reads
        self.target = target
        # A search replica's mirror (server/replica/) reads another store's collections: it
        # never creates, adopts, writes or deletes anything in Milvus.
        self.read_only = read_only
        self.client: Any = target.client()
        base = target.collection_base(store.store_id)
        self.scenes, self.frames = base + "_scenes", base + "_frames"
        self.dim = 0

    # --- collections ------------------------------------------------------------------------

    def cache_reads(self, generation: Callable[[], int], directory: Path) -> None:
        """Nothing to copy: Milvus serves vector reads from its own memory."""

    def warming(self) -> bool:
        return False

    def bind(self, dim: int) -> None:
        """Create the collections on first use (FLAT: the index engine sets the scene
        collection's real index kind), and load them."""
        if self.dim == dim:
            return
        from pymilvus import DataType, MilvusClient

        self.dim = dim
        if self.read_only:
            missing = [n for n in (self.scenes, self.frames) if not self.client.has_collection(n)]
            if missing:
                raise ValueError(  # cannot start: the operator fixes a flag
                    f"Milvus has no collection {', '.join(missing)}: the primary's store has "
                    "not created them yet, or --milvus-uri/--milvus-db/--milvus-prefix differ "
                    "from the primary's"
                )
            return
        for name, fields in ((self.scenes, SCENE_FIELDS), (self.frames, FRAME_FIELDS)):
            if self.client.has_collection(name):
                self.client.load_collection(name)
                continue
            schema = MilvusClient.create_schema(auto_id=name == self.frames)
            schema.add_field("id", DataType.INT64, is_primary=True)
            for field in fields:
                if field != "id":
                    kind = DataType.DOUBLE if field.endswith("_s") else DataType.INT64
                    schema.add_field(field, kind)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            index = self.client.prepare_index_params()
            index.add_index("vector", index_type="FLAT", metric_type="IP")
            self.client.create_collection(name, schema=schema, index_params=index)
            self.client.load_collection(name)
            log.info("created Milvus collection %s (dimension %d)", name, dim)
        self.adopt()

    def adopt(self) -> None:
        """Move vectors the catalog rows still hold (a data dir written by the faiss backend,
        or by the library builders) into Milvus, then blank them in one transaction. A crash
        before that transaction leaves the blobs, and the next open starts the copy again."""
        db = self._store.db
        if db.execute("SELECT 1 FROM meta WHERE key = ?", (MOVED_KEY,)).fetchone():
            return  # moved before: no scan of the whole scene table at every start
        if not db.execute("SELECT 1 FROM scenes WHERE length(vector) > 0 LIMIT 1").fetchone():
            with self._store.write(searchable=False) as conn:
                conn.execute("INSERT OR REPLACE INTO meta VALUES (?, 'milvus')", (MOVED_KEY,))
            return
        log.info("moving the catalog's vectors into Milvus (%s, %s)", self.scenes, self.frames)
        for name in (self.scenes, self.frames):
            self.client.delete(name, filter="video_id >= 0")  # a copy a crash interrupted
        self._copy(self.scenes, "SELECT id, video_id, idx, start_s, end_s, vector FROM scenes")
        self._copy(
            self.frames, "SELECT id, video_id, scene_id, frame_no, time_s, vector FROM frames"
        )
        for name in (self.scenes, self.frames):
            self.client.flush(name)  # seal: sealed segments are indexed and scanned faster
        with self._store.write(searchable=False) as conn:
            conn.execute("UPDATE scenes SET vector = x''")
            conn.execute("UPDATE frames SET vector = x''")
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, 'milvus')", (MOVED_KEY,))

    def _copy(self, collection: str, select: str) -> None:
        fields = SCENE_FIELDS if collection == self.scenes else FRAME_FIELDS
        last = 0
        while True:
            rows = self._store.db.execute(
                f"{select} WHERE id > ? ORDER BY id LIMIT ?", (last, INSERT_BATCH)
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            vectors = from_blobs([r[-1] for r in rows], self.dim)
            named = fields if collection == self.scenes else ("_", *fields)
            self.insert(
                collection,
                [
                    {
                        **{k: v for k, v in zip(named, row[:-1], strict=True) if k != "_"},
                        "vector": vector,
                    }
                    for row, vector in zip(rows, vectors, strict=True)
                ],
            )

    # --- writes -------------------------------------------------------------------------------

    def blob(self, vector: np.ndarray) -> bytes:
        return b""  # the catalog rows keep no vector in this mode

    def write_video(self, video_id: int, scene_ids: Sequence[int], result: IngestResult) -> None:
        self._writable()
        # No delete first: rows of an attempt a crash interrupted were purged at start-up,
        # and a commit that failed dropped its own (Store.add_video). A delete by video id
        # costs Milvus 2.3 a strongly consistent query per collection (~0.3 s each here).
        scenes = [
            {
                "id": int(sid),
                "video_id": video_id,
                "idx": span.index,
                "start_s": float(span.start_s),
                "end_s": float(span.end_s),
                "vector": vector,
            }
            for sid, span, vector in zip(
                scene_ids, result.scenes, result.scene_vectors, strict=True
            )
        ]
        frames = [
            {
                "video_id": video_id,
                "scene_id": int(scene_ids[f.scene_index]),
                "frame_no": int(f.frame_no),
                "time_s": float(f.time_s),
                "vector": vector,
            }
            for f, vector in zip(result.frames, result.frame_vectors, strict=True)
        ]
        self.insert(self.scenes, scenes)
        self.insert(self.frames, frames)

    def insert(self, collection: str, rows: list[dict[str, Any]]) -> None:
        self._writable()
        for start in range(0, len(rows), INSERT_BATCH):
            self.client.insert(collection, rows[start : start + INSERT_BATCH])

    def delete_video(self, video_id: int) -> None:
        self.purge([video_id])

    def purge(self, video_ids: Sequence[int]) -> None:
        self._writable()
        for chunk in chunked(video_ids):
            for name in (self.scenes, self.frames):
                self.client.delete(name, filter=f"video_id in {id_list(chunk)}")

    def _writable(self) -> None:
        if self.read_only:
            raise ReadOnlyVectors(f"{self.scenes} is opened read-only (a search replica)")

    # --- reads --------------------------------------------------------------------------------

    def query(self, collection: str, expr: str, fields: Sequence[str]) -> list[dict[str, Any]]:
        return list(
            self.client.query(
                collection,
                filter=expr,
                output_fields=list(fields),
                consistency_level=self.target.consistency,
            )
        )

    def scene_scores(
        self, ids: np.ndarray, vector: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        return None  # no read copy: Milvus serves these reads (and its index scores them)

    def lookup_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, Vectors]:
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        rows: list[dict[str, Any]] = []
        for chunk in chunked(wanted.tolist()):
            rows += self.query(self.scenes, f"id in {id_list(chunk)}", ["id", "vector"])
        got = np.fromiter((r["id"] for r in rows), dtype=np.int64, count=len(rows))
        found, order = in_given_order(wanted, got)
        return found, as_matrix([rows[i]["vector"] for i in order.tolist()], self.dim)

    def sample_scene_vectors(self, limit: int) -> Vectors:
        rows = self._store.db.execute(
            "SELECT id FROM scenes ORDER BY random() LIMIT ?", (limit,)
        ).fetchall()
        return self.lookup_vectors(np.asarray([r[0] for r in rows], dtype=np.int64))[1]

    def iter_scene_vectors(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, Vectors]]:
        """Committed scenes (the catalog's ids) in id order, their vectors read from Milvus."""
        last = -1
        while True:
            rows = self._store.db.execute(
                "SELECT id FROM scenes WHERE id > ? ORDER BY id LIMIT ?", (last, min(batch, CHUNK))
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield self.lookup_vectors(np.asarray([r[0] for r in rows], dtype=np.int64))

    def frames_of_scenes(self, scene_ids: Sequence[int], ordered: bool = True) -> FrameMatrix:
        return concat_frames(
            [
                self._frames(f"scene_id in {id_list(chunk)}", ordered)
                for chunk in chunked(scene_ids)
            ],
            self.dim,
        )

    def frames_of_video(self, video_id: int) -> FrameMatrix:
        return self._frames(f"video_id == {int(video_id)}")

    def _frames(self, expr: str, ordered: bool = True) -> FrameMatrix:
        rows = self.query(
            self.frames, expr, ["video_id", "frame_no", "time_s", "scene_id", "vector"]
        )
        if ordered:
            rows.sort(key=lambda r: (r["video_id"], r["frame_no"]))
        return FrameMatrix(
            times_s=np.fromiter((r["time_s"] for r in rows), dtype=np.float64, count=len(rows)),
            vectors=as_matrix([r["vector"] for r in rows], self.dim),
            scene_ids=np.fromiter((r["scene_id"] for r in rows), dtype=np.int64, count=len(rows)),
        )


class ReadOnlyVectors(RuntimeError):
    """A write reached a read-only MilvusVectors (a bug: replicas never write)."""
