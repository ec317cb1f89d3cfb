"""`flat`: exact search. Inner product on normalised vectors is cosine similarity."""

from __future__ import annotations

from collections.abc import Mapping

import faiss

from scenesearch.server.domain import Vectors
from scenesearch.server.index.base import (
    IdFilter,
    Ids,
    Scores,
    VectorLookup,
    deserialize,
)
from scenesearch.server.index.id_mapped import IdMappedIndex


class FlatIndex(IdMappedIndex):
    kind = "flat"

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        super().__init__(
            dim, index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        )

    @classmethod
    def create(cls, dim: int, params: Mapping[str, str], lookup: VectorLookup) -> FlatIndex:
        return cls(dim)

    @classmethod
    def from_bytes(
        cls, dim: int, params: Mapping[str, str], lookup: VectorLookup, data: bytes
    ) -> FlatIndex:
        return cls(dim, deserialize(data))

    def search(
        self, queries: Vectors, k: int, id_filter: IdFilter | None = None
    ) -> tuple[Scores, Ids]:
        # With a selector FAISS scores only the rows it lets through.
        return self._filtered_search(queries, k, id_filter)
