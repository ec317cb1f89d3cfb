"""`lsh`: random-hyperplane LSH (FAISS IndexLSH) with exact re-ranking. Params: nbits,
rerank (candidates per result; 0 = Hamming only).

Raw LSH recall at 512 dimensions is poor, so k * rerank candidates are taken by Hamming
distance and re-ranked exactly with the stored vectors, returning true cosine scores. With
rerank=0 the Hamming distance h is mapped to the SimHash cosine estimate cos(π·h/nbits).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import faiss
import numpy as np

from scenesearch.server.domain import Vectors
from scenesearch.server.index.base import (
    IdFilter,
    Ids,
    Scores,
    VectorLookup,
    as_vectors,
    deserialize,
    int_param,
    rerank,
    rerank_fetch,
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

    def search(
        self, queries: Vectors, k: int, id_filter: IdFilter | None = None
    ) -> tuple[Scores, Ids]:
        """IndexLSH takes no search parameters, so a filter is applied to the Hamming
        candidates before re-ranking; enough are fetched that k * rerank of them are
        expected to pass (candidates / fraction kept)."""
        queries = as_vectors(queries, self.dim)
        total = max(int(self._index.ntotal), 1)
        active = id_filter is not None and not id_filter.empty
        wanted = rerank_fetch(k, max(self.rerank_factor, 1))
        fetch = wanted
        if id_filter is not None and active:
            fraction = max(id_filter.fraction(total), 1e-9)
            fetch = math.ceil(wanted / fraction) + len(id_filter.deny)
        fetch = min(fetch, total)
        if self.rerank_factor == 0:
            hamming, ids = self._index.search(queries, fetch)
            if id_filter is not None and active:
                hamming, ids = keep_best(hamming, ids, id_filter, k)
            return np.cos(np.pi * hamming[:, :k] / self.nbits).astype(np.float32), ids[:, :k]
        _, candidates = self._index.search(queries, fetch)
        return rerank(queries, candidates, k, self._lookup, id_filter if active else None, wanted)

    def stored_vectors(self, ids: Ids) -> tuple[Ids, Vectors]:
        return self._lookup(ids)  # LSH keeps only bit codes

    def params(self) -> dict[str, str]:
        return {"nbits": str(self.nbits), "rerank": str(self.rerank_factor)}

    def note(self) -> str:
        if self.rerank_factor == 0:
            return "Hamming-only: scores are SimHash cosine estimates, not exact"
        return ""


def keep_best(dist: np.ndarray, ids: Ids, id_filter: IdFilter, k: int) -> tuple[np.ndarray, Ids]:
    """Per row, the first k candidates the filter lets through (order kept), padded with -1."""
    out_d = np.full((len(ids), k), np.inf, dtype=np.float32)
    out_i = np.full((len(ids), k), -1, dtype=np.int64)
    for row in range(len(ids)):
        mask = id_filter.keep(ids[row])
        kept = np.flatnonzero(mask)[:k]
        out_d[row, : len(kept)] = dist[row, kept]
        out_i[row, : len(kept)] = ids[row, kept]
    return out_d, out_i
