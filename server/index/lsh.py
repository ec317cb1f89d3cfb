"""`lsh`: random-hyperplane LSH (FAISS IndexLSH) with exact re-ranking. Params: nbits,
rerank (candidates per result; 0 = Hamming only).

Raw LSH recall at 512 dimensions is poor, so k * rerank candidates are taken by Hamming
distance and re-ranked exactly with the stored vectors, returning true cosine scores. With
rerank=0 the Hamming distance h is mapped to the SimHash cosine estimate cos(π·h/nbits).
"""

from __future__ import annotations

from collections.abc import Mapping

import faiss
import numpy as np

from scenesearch.server.domain import Vectors
from scenesearch.server.index.base import (
    Ids,
    Scores,
    VectorLookup,
    as_vectors,
    deserialize,
    int_param,
    rerank,
)
from scenesearch.server.index.id_mapped import IdMappedIndex


class LshIndex(IdMappedIndex):
    kind = "lsh"

    def __init__(
        self,
        dim: int,
        nbits: int,
        rerank_factor: int,
        lookup: VectorLookup,
        index: faiss.Index | None = None,
    ) -> None:
        # IndexLSH has no add_with_ids; IndexIDMap2 adds our ids (and id → code lookups).
        super().__init__(
            dim,
            index
            if index is not None
            else faiss.IndexIDMap2(faiss.IndexLSH(dim, nbits, True, False)),
        )
        self.nbits, self.rerank_factor = nbits, rerank_factor
        self._lookup = lookup

    @classmethod
    def create(cls, dim: int, params: Mapping[str, str], lookup: VectorLookup) -> LshIndex:
        nbits = int_param(params, "nbits", 1024, 8)
        return cls(dim, nbits, int_param(params, "rerank", 10, 0), lookup)

    @classmethod
    def from_bytes(
        cls, dim: int, params: Mapping[str, str], lookup: VectorLookup, data: bytes
    ) -> LshIndex:
        base = cls.create(dim, params, lookup)
        return cls(dim, base.nbits, base.rerank_factor, lookup, deserialize(data))

    def search(self, queries: Vectors, k: int) -> tuple[Scores, Ids]:
        queries = as_vectors(queries, self.dim)
        if self.rerank_factor == 0:
            hamming, ids = self._index.search(queries, k)
            return np.cos(np.pi * hamming / self.nbits).astype(np.float32), ids
        fetch = min(k * self.rerank_factor, max(int(self._index.ntotal), 1))
        _, candidates = self._index.search(queries, fetch)
        return rerank(queries, candidates, k, self._lookup)

    def params(self) -> dict[str, str]:
        return {"nbits": str(self.nbits), "rerank": str(self.rerank_factor)}

    def note(self) -> str:
        if self.rerank_factor == 0:
            return "Hamming-only: scores are SimHash cosine estimates, not exact"
        return ""
