"""Where a data dir's scene and frame vectors live: the VectorStore contract.

The SQLite catalog (store.py) is the truth about videos, scenes and frames; a VectorStore
keeps their vectors. Two implementations, chosen by `--backend` (server/index/backends.py):
SQLite itself (vector_reads.py: vectors in the catalog rows, the embedded default) and
Milvus (milvus_vectors.py: vectors in collections, the catalog rows keep none).

Consistency: `write_video` runs inside the catalog transaction that makes a video ready,
before it commits, so vectors exist before the catalog says they are visible; a crash in
between leaves vectors of a video that is not ready, which `purge` removes at start-up.
Deletes go the other way: the catalog first, then `delete_video`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np
import sqlite_utils

from scenesearch.server.domain import IngestResult, Vectors
from scenesearch.server.storage.schema import FrameMatrix


class VectorStore(Protocol):
    name: str

    def bind(self, dim: int) -> None:
        """The embedding dimension is known (first start, or every open after it)."""
        ...

    def blob(self, vector: np.ndarray) -> bytes:
        """What a catalog scene or frame row keeps of its vector."""
        ...

    def cache_reads(self, generation: Callable[[], int], directory: Path) -> None:
        """A serving store: keep whatever read copies make searches' lookups fast (`generation`
        tells when the catalog changed; `directory` is where copies may keep files)."""
        ...

    def warming(self) -> bool:
        """Whether read copies are still being built (reads are slower until then)."""
        ...

    def write_video(self, video_id: int, scene_ids: Sequence[int], result: IngestResult) -> None:
        """Store a video's vectors; called inside the catalog transaction, before COMMIT."""
        ...

    def delete_video(self, video_id: int) -> None:
        """Drop a video's vectors (after the catalog dropped the video)."""
        ...

    def purge(self, video_ids: Sequence[int]) -> None:
        """Drop the vectors of these videos, which the catalog does not show as ready."""
        ...

    def lookup_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, Vectors]:
        """Stored vectors of the scenes among `ids`, in the order given (absent ids left out)."""
        ...

    def scene_scores(
        self, ids: np.ndarray, vector: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(scene id, stored vector · `vector`) of the committed scenes among the sorted,
        unique `ids`, in id order, from a read copy of the vectors; None when there is none
        (not kept, or still being built): the caller reads the vectors by other means."""
        ...

    def sample_scene_vectors(self, limit: int) -> Vectors: ...

    def iter_scene_vectors(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, Vectors]]: ...

    def frames_of_scenes(self, scene_ids: Sequence[int], ordered: bool = True) -> FrameMatrix: ...

    def frames_of_video(self, video_id: int) -> FrameMatrix: ...


class CatalogView(Protocol):
    """What a VectorStore may use of the store that owns it (storage/store.py's Store)."""

    @property
    def store_id(self) -> str: ...

    @property
    def db(self) -> sqlite_utils.Database: ...

    def write(self, searchable: bool = True) -> AbstractContextManager[sqlite3.Connection]: ...


# Makes the VectorStore of a store once its catalog is open.
VectorStoreFactory = Callable[[CatalogView], VectorStore]


class VectorsOfStore:
    """The vector reads of a Store, answered by its VectorStore (kept here so the catalog
    module stays about the catalog)."""

    vectors: VectorStore

    def lookup_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, Vectors]:
        return self.vectors.lookup_vectors(ids)

    def sample_scene_vectors(self, limit: int) -> Vectors:
        return self.vectors.sample_scene_vectors(limit)

    def iter_scene_vectors(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, Vectors]]:
        return self.vectors.iter_scene_vectors(batch)

    def frames_of_scenes(self, scene_ids: Sequence[int], ordered: bool = True) -> FrameMatrix:
        return self.vectors.frames_of_scenes(scene_ids, ordered)

    def frames_of_video(self, video_id: int) -> FrameMatrix:
        return self.vectors.frames_of_video(video_id)
