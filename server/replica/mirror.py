"""Keeps a replica's catalog mirror equal to its primary's catalog.

One `sync()`: GetStats on the primary (cheap); when its `library_version` moved, ListVideos
and GetVideo for each new ready video; videos gone from the primary are deleted and new ones
inserted with their ids, in one transaction per batch. Before new videos become visible the
replica makes sure Milvus serves their rows (one Strong count query). The primary's concepts
are copied too (ListConcepts each sync, GetConcept for a changed version), and the index
follows the primary's kind. A change of the primary's store or model (a re-embed swap) raises
PrimaryChanged: this replica's model cannot answer for the new library.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence

import numpy as np

from scenesearch.server.index.milvus import MilvusIndex
from scenesearch.server.replica.mirror_store import MirrorStore
from scenesearch.server.replica.primary import Primary
from scenesearch.server.storage.concepts import COLUMNS, ConceptTable, Examples, _insert_examples
from scenesearch.server.storage.milvus_target import id_list
from scenesearch.server.storage.milvus_vectors import MilvusVectors
from scenesearch.server.storage.schema import to_blob
from scenesearch.server.storage.vector_reads import chunked, placeholders
from scenesearch.v1 import scenesearch_pb2 as pb

log = logging.getLogger(__name__)

BATCH = 64  # new videos fetched and committed per transaction


class PrimaryChanged(Exception):
    """The primary now serves another store or model: this replica must be restarted."""


class CatalogMirror:
    def __init__(
        self,
        store: MirrorStore,
        primary: Primary,
        index: MilvusIndex,
        model: str,
        index_overrides: Mapping[str, str],
    ) -> None:
        self._store, self._primary, self._index = store, primary, index
        self._model, self._overrides = model, dict(index_overrides)
        vectors = store.vectors
        assert isinstance(vectors, MilvusVectors)
        self._vectors = vectors
        ConceptTable(store)  # its tables exist before the first copy
        self.version = -1  # the primary's library_version the mirror reflects
        self.synced_at = 0.0  # time.time() of the last complete sync
        self._followed: tuple[str, dict[str, str], int] | None = None

    def sync(self) -> bool:
        """One round; True when the catalog changed."""
        stats = self._primary.stats()
        self.check(stats)
        changed = False
        if stats.library_version != self.version:
            changed = self._sync_videos()
        self._sync_concepts()
        params = {k: v for k, v in stats.index_params.items() if k != "backend"}
        state = (stats.index_kind, {**params, **self._overrides}, self._store.counts()[1])
        if state != self._followed:  # follow() waits for searches in flight: only on change
            self._index.follow(*state, self._store.generation())
            self._followed = state
        self.version, self.synced_at = stats.library_version, time.time()
        return changed

    def check(self, stats: pb.GetStatsResponse) -> None:
        if stats.store_id != self._store.store_id or stats.model != self._model:
            raise PrimaryChanged(
                f"the primary at {self._primary.address} now serves model {stats.model!r} "
                f"(store {stats.store_id}) and this replica serves {self._model!r} (store "
                f"{self._store.store_id}), after a re-embed: restart this replica with "
                f"--model {stats.model!r}"
            )

    # --- videos ---------------------------------------------------------------------------

    def _sync_videos(self) -> bool:
        remote = {v.id: v for v in self._primary.videos() if v.status == "ready"}
        local = set(self._store.ready_video_ids())
        gone = sorted(local - set(remote))
        new = sorted(set(remote) - local)
        if gone:
            with self._store.write() as conn:
                for chunk in chunked(gone):  # scenes and thumbnails go by ON DELETE CASCADE
                    conn.execute(f"DELETE FROM videos WHERE id IN ({placeholders(chunk)})", chunk)
            log.info("replica: %d videos deleted on the primary", len(gone))
        for start in range(0, len(new), BATCH):
            fetched = [self._primary.video(v) for v in new[start : start + BATCH]]
            self._insert([f for f in fetched if f is not None])
        if new:
            log.info("replica: %d new videos from the primary", len(new))
        return bool(gone or new)

    def _insert(self, videos: Sequence[pb.GetVideoResponse]) -> None:
        if not videos:
            return
        self._wait_for_vectors(videos)
        with self._store.write() as conn:
            for item in videos:
                _insert_video(conn, item)

    def _wait_for_vectors(self, videos: Sequence[pb.GetVideoResponse]) -> None:
        """A Strong read waits until Milvus has applied every write made before it, so the
        replica's own (Session) searches see these videos' rows once they are visible here.
        The primary wrote them before committing its catalog: a shortfall is a bug."""
        ids = [item.video.id for item in videos]
        rows = self._vectors.client.query(
            self._vectors.scenes,
            filter=f"video_id in {id_list(ids)}",
            output_fields=["count(*)"],
            consistency_level="Strong",
        )
        have, want = int(rows[0]["count(*)"]), sum(len(item.scenes) for item in videos)
        if have != want:
            log.warning("replica: Milvus holds %d of the %d new scenes' vectors", have, want)

    # --- concepts -------------------------------------------------------------------------

    def _sync_concepts(self) -> None:
        remote = {c.name: c.version for c in self._primary.concepts()}
        conn = self._store.db.conn
        local = dict(conn.execute("SELECT name, version FROM concepts").fetchall())
        stale = [name for name, version in remote.items() if local.get(name) != version]
        fetched = [self._primary.concept(name) for name in stale]
        gone = [name for name in local if name not in remote]
        if not gone and not stale:
            return
        with self._store.write(searchable=False) as conn:
            for name in gone + stale:
                conn.execute("DELETE FROM concept_examples WHERE concept = ?", (name,))
                conn.execute("DELETE FROM concepts WHERE name = ?", (name,))
            for concept in fetched:
                if concept is not None:  # None: deleted on the primary meanwhile
                    _insert_concept(conn, concept)


def _insert_video(conn: sqlite3.Connection, item: pb.GetVideoResponse) -> None:
    v = item.video
    conn.execute(
        "INSERT INTO videos (id, path, content_hash, duration_s, fps, width, height, "
        "frame_count, scene_count, sample_count, rotation, ingested_at, status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ready')",
        (
            v.id,
            v.path,
            v.content_hash,
            v.duration_s,
            v.fps,
            v.width,
            v.height,
            v.frame_count,
            v.scene_count,
            v.sample_count,
            v.rotation,
            v.ingested_at,
        ),
    )
    conn.executemany(
        "INSERT INTO scenes (id, video_id, idx, start_s, end_s, start_frame, end_frame, vector) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, x'')",
        [
            (s.id, v.id, s.index, s.start_s, s.end_s, s.start_frame, s.end_frame)
            for s in item.scenes
        ],
    )


def _insert_concept(conn: sqlite3.Connection, concept: pb.GetConceptResponse) -> None:
    info = concept.concept
    cv = info.cv_accuracy if info.HasField("cv_accuracy") else None
    conn.execute(
        f"INSERT INTO concepts ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            info.name,
            info.version,
            info.model,
            len(concept.weights),
            to_blob(np.asarray(concept.weights, dtype=np.float32)),
            concept.bias,
            info.positive_vectors,
            info.negative_vectors,
            info.random_negatives,
            cv,
            info.cv_folds,
            info.created_at,
        ),
    )
    for positive, side in ((True, concept.positive), (False, concept.negative)):
        examples = Examples(tuple(side.scene_ids), tuple(side.images), tuple(side.texts))
        _insert_examples(conn, info.name, positive, examples)
