"""The body shared by kinds that wrap their FAISS index in IndexIDMap2 (flat, IVF-PQ, LSH).

IndexIDMap2 keeps our scene ids beside FAISS's own sequence numbers and supports removal and
reconstruction, so adding, removing, counting and serialising are the same for all of them.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from scenesearch.server.domain import Vectors
from scenesearch.server.index.base import IdFilter, Ids, Scores, as_ids, as_vectors, serialize


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

    def stored_vectors(self, ids: Ids) -> tuple[Ids, Vectors]:
        """Vectors kept by the FAISS index itself (exact for flat storage)."""
        return reconstruct(self._index, as_ids(ids), self.dim)

    def _filtered_search(
        self,
        queries: Vectors,
        k: int,
        id_filter: IdFilter | None,
        params: Any = None,
    ) -> tuple[Scores, Ids]:
        """Search with `params` (SearchParameters or a subclass), adding the filter's selector."""
        queries = as_vectors(queries, self.dim)
        keep: list[Any] = []
        if id_filter is not None and not id_filter.empty:
            params = params if params is not None else faiss.SearchParameters()
            params.sel, keep = id_filter.selector()
        if params is None:
            scores, ids = self._index.search(queries, k)
        else:
            scores, ids = self._index.search(queries, k, params=params)
        del keep  # the selector's pieces lived through the search
        return scores, ids


def reconstruct(index: faiss.Index, ids: Ids, dim: int) -> tuple[Ids, Vectors]:
    """`index.reconstruct` for many ids; ids the index does not hold are left out."""
    if len(ids) == 0:
        return ids, np.zeros((0, dim), dtype=np.float32)
    try:
        return ids, index.reconstruct_batch(ids)
    except RuntimeError:  # some id is missing: the slow path keeps the others
        found, rows = [], []
        for i in ids.tolist():
            try:
                rows.append(index.reconstruct(i))
            except RuntimeError:
                continue
            found.append(i)
        if not found:
            return np.zeros(0, np.int64), np.zeros((0, dim), dtype=np.float32)
        return np.array(found, dtype=np.int64), np.stack(rows)
