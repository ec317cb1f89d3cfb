"""The body shared by kinds that wrap their FAISS index in IndexIDMap2 (flat, IVF-PQ, LSH).

IndexIDMap2 keeps our scene ids beside FAISS's own sequence numbers and supports removal and
reconstruction, so adding, removing, counting and serialising are the same for all of them.
"""

from __future__ import annotations

import faiss

from scenesearch.server.domain import Vectors
from scenesearch.server.index.base import Ids, as_ids, as_vectors, serialize


class IdMappedIndex:
    kind: str

    def __init__(self, dim: int, index: faiss.Index) -> None:
        self.dim = dim
        self._index = index

    def add(self, ids: Ids, vectors: Vectors) -> None:
        self._index.add_with_ids(as_vectors(vectors, self.dim), as_ids(ids))

    def remove(self, ids: Ids) -> int:
        return int(self._index.remove_ids(as_ids(ids)))

    def count(self) -> int:
        return int(self._index.ntotal)

    def params(self) -> dict[str, str]:
        return {}

    def note(self) -> str:
        return ""

    def to_bytes(self) -> bytes:
        return serialize(self._index)
