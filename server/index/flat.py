"""`flat`: exact search. Inner product on normalised vectors is cosine similarity."""

from __future__ import annotations

from collections.abc import Mapping

import faiss

from scenesearch.server.domain import Vectors
from scenesearch.server.index.base import (
    Ids,
    Scores,
    VectorLookup,
    as_ids,
    as_vectors,
    deserialize,
    serialize,
)


class FlatIndex:
    kind = "flat"

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        # IndexIDMap2 keeps our scene ids and supports remove_ids and reconstruct.
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def create(cls, dim: int, params: Mapping[str, str], lookup: VectorLookup) -> FlatIndex:
        return cls(dim)

    @classmethod
    def from_bytes(
        cls, dim: int, params: Mapping[str, str], lookup: VectorLookup, data: bytes
    ) -> FlatIndex:
        return cls(dim, deserialize(data))

    def add(self, ids: Ids, vectors: Vectors) -> None:
        self._index.add_with_ids(as_vectors(vectors, self.dim), as_ids(ids))

    def remove(self, ids: Ids) -> int:
        return int(self._index.remove_ids(as_ids(ids)))

    def search(self, queries: Vectors, k: int) -> tuple[Scores, Ids]:
        scores, ids = self._index.search(as_vectors(queries, self.dim), k)
        return scores, ids

    def count(self) -> int:
        return int(self._index.ntotal)

    def params(self) -> dict[str, str]:
        return {}

    def note(self) -> str:
        return ""

    def to_bytes(self) -> bytes:
        return serialize(self._index)
