"""The replica's catalog mirror on disk: a real Store in the replica's scratch data dir whose
meta names the primary's store (so MilvusVectors opens the primary's collections, read-only)
and whose rows are copies of the primary's videos and scenes, ids kept, without frame rows:
frames are read from Milvus per video or scene."""

from __future__ import annotations

import logging
from pathlib import Path

from scenesearch.server.storage.milvus_target import MilvusTarget
from scenesearch.server.storage.milvus_vectors import MilvusVectors
from scenesearch.server.storage.store import Store
from scenesearch.v1 import scenesearch_pb2 as pb

log = logging.getLogger(__name__)

# Meta key that marks a data dir as a mirror: only such a file is ever wiped and rebuilt.
MIRROR_OF = "mirror_of"


class MirrorStore(Store):
    """A Store opened by open_mirror: copies of the primary's rows, vectors read-only in
    the primary's Milvus collections."""


def open_mirror(data_dir: Path, primary: pb.GetStatsResponse, target: MilvusTarget) -> MirrorStore:
    """Open (or start afresh) the mirror of `primary`'s store in `data_dir`. A mirror of
    another store or model is rebuilt from nothing; a data dir with a library of its own is
    refused, never wiped."""
    probe = Store.open(data_dir)  # SQLite vectors: touches nothing outside the file
    mirror_of, model = probe.meta(MIRROR_OF), probe.meta("model")
    kept = mirror_of == primary.store_id and model == primary.model
    if not kept and mirror_of is None and (model is not None or probe.list_videos()):
        raise ValueError(
            f"data dir {data_dir} holds a library of its own; a replica keeps only a copy of "
            "its primary's catalog: give it an empty --data-dir"
        )
    path = probe.path
    probe.db.conn.close()
    if not kept:
        if mirror_of is not None:
            log.info("the mirror in %s is of another store or model: starting afresh", data_dir)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        seed = Store.open(data_dir)
        with seed.write(searchable=False) as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [
                    ("store_id", primary.store_id),
                    (MIRROR_OF, primary.store_id),
                    ("model", primary.model),
                    ("dimension", str(primary.dimension)),
                ],
            )
        seed.db.conn.close()
    store = MirrorStore.open(data_dir, lambda s: MilvusVectors(s, target, read_only=True))
    assert isinstance(store, MirrorStore)
    return store
