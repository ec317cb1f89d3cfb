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

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from scenesearch.server.domain import IngestResult, Vectors
from scenesearch.server.storage.schema import FrameMatrix

if TYPE_CHECKING:
    from scenesearch.server.storage.store import Store


class VectorStore(Protocol):
    name: str

    def bind(self, dim: int) -> None:
        """The embedding dimension is known (first start, or every open after it)."""
        ...

    def blob(self, vector: np.ndarray) -> bytes:
        """What a catalog scene or frame row keeps of its vector."""
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

    def sample_scene_vectors(self, limit: int) -> Vectors: ...

    def iter_scene_vectors(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, Vectors]]: ...

    def frames_of_scenes(self, scene_ids: Sequence[int], ordered: bool = True) -> FrameMatrix: ...

    def frames_of_video(self, video_id: int) -> FrameMatrix: ...


# Makes the VectorStore of a store once its catalog is open.
VectorStoreFactory = Callable[["Store"], VectorStore]
