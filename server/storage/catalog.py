"""Writes that change what is searchable: SQLite first, then the index, one at a time.

SQLite commits a whole video (or its deletion) in one transaction; the index follows. A search
that meets an id the index still holds but SQLite no longer does drops it, so a deleted or
uncommitted video is never returned, even between the two steps.
"""

from __future__ import annotations

import threading

import numpy as np

from scenesearch.server.domain import IngestResult, Video
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.storage.store import Store
from scenesearch.server.storage.thumbnails import ThumbnailTable


class Catalog:
    def __init__(
        self, store: Store, index: LiveIndex, thumbnails: ThumbnailTable | None = None
    ) -> None:
        self._store = store
        self._index = index
        self._thumbnails = thumbnails
        self._lock = threading.Lock()

    def add(self, video_id: int, result: IngestResult) -> Video:
        """Commit a reserved video's scenes and frames, then index its scenes."""
        with self._lock:
            video, scene_ids = self._store.add_video(video_id, result)
            self._index.add(np.asarray(scene_ids), result.scene_vectors, self._store.generation())
            # A crash before this line loses only thumbnails, which are made again on request.
            if self._thumbnails is not None:
                self._thumbnails.add(scene_ids, result.thumbnails)
            return video

    def delete(self, video_id: int) -> int:
        with self._lock:
            scene_ids = self._store.delete_video(video_id)
            self._index.remove(np.asarray(scene_ids, dtype=np.int64), self._store.generation())
            return len(scene_ids)
