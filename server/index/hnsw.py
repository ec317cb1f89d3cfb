"""`hnsw`: graph search (FAISS IndexHNSWFlat, inner product). Params: M, efConstruction,
efSearch (default: tuned at each build for recall@10 0.95, at least 128; see tuning.py).

FAISS cannot remove from an HNSW graph, so removed ids become tombstones excluded at search
time by an IDSelector; the graph is rebuilt from its own stored vectors once tombstones pass a
quarter of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import faiss
import numpy as np

from scenesearch.server.domain import Vectors
from scenesearch.server.index.base import (
    IdFilter,
    Ids,
    Scores,
    VectorLookup,
    as_ids,
    as_vectors,
    combine,
    deserialize,
    int_param,
    pack,
    serialize,
    unpack,
)
from scenesearch.server.index.id_mapped import reconstruct
from scenesearch.server.index.tuning import RecallProbe, Tuned, ladder, tune

COMPACT_FRACTION = 0.25
DEFAULT_EF_SEARCH = 128
# The most efSearch tuning goes to: about 8x the default's cost.
MAX_TUNED_EF_SEARCH = 1024
# The largest efSearch a filtered search raises to (cost grows about linearly with it).
EF_FILTER_CAP = 4096


class HnswIndex:
    kind = "hnsw"

    def __init__(
        self,
        dim: int,
        m: int,
        ef_construction: int,
        ef_search: int,
        index: faiss.Index | None = None,
        tombstones: Ids | None = None,
        tunable: bool = False,
    ) -> None:
        self.dim, self.m = dim, m
        self.ef_construction, self.ef_search = ef_construction, ef_search
        self.tunable = tunable  # efSearch was not given: builds tune it (tuning.py)
        self.tuned: Tuned | None = None
        self._index = index if index is not None else self._empty()
        self._dead: set[int] = set(int(i) for i in (tombstones if tombstones is not None else []))
        # The Not-selector only wraps its batch selector, so both are kept alive together.
        self._selector: tuple[faiss.IDSelector, faiss.IDSelector] | None = None

    def _empty(self) -> faiss.Index:
        graph = faiss.IndexHNSWFlat(self.dim, self.m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = self.ef_construction
        graph.hnsw.efSearch = self.ef_search  # saved with the graph: a tuned value survives
        return faiss.IndexIDMap2(graph)

    @classmethod
    def create(cls, dim: int, params: Mapping[str, str], lookup: VectorLookup) -> HnswIndex:
        return cls(
            dim,
            int_param(params, "M", 32, 2),
            int_param(params, "efConstruction", 80),
            int_param(params, "efSearch", DEFAULT_EF_SEARCH),
            tunable="efSearch" not in params,
        )

    @classmethod
    def from_bytes(
        cls, dim: int, params: Mapping[str, str], lookup: VectorLookup, data: bytes
    ) -> HnswIndex:
        graph, dead = unpack(data)
        base = cls.create(dim, params, lookup)
        index = deserialize(graph)
        ef_search = base.ef_search
        if base.tunable:  # the value tuned at the build (older saves hold FAISS's 16)
            saved = faiss.downcast_index(faiss.downcast_index(index).index).hnsw.efSearch
            ef_search = max(base.ef_search, int(saved))
        return cls(
            dim,
            base.m,
            base.ef_construction,
            ef_search,
            index,
            np.frombuffer(dead, dtype=np.int64),
            base.tunable,
        )

    def tune(self, probe: RecallProbe) -> None:
        """Raise efSearch until the probe's recall meets the target (tuning.py)."""
        if not self.tunable:
            return
        steps = ladder(self.ef_search, max(self.ef_search, MAX_TUNED_EF_SEARCH))
        self.tuned = tune(lambda q, k, ef: self._search(q, k, None, ef)[1], steps, probe)
        self.ef_search = self.tuned.value
        faiss.downcast_index(self._index.index).hnsw.efSearch = self.ef_search

    def add(self, ids: Ids, vectors: Vectors) -> None:
        ids = as_ids(ids)
        revived = self._dead.intersection(ids.tolist())
        if revived:  # ids are never reused by the store, but keep the contract exact
            self._compact(extra_dead=revived)
        self._index.add_with_ids(as_vectors(vectors, self.dim), ids)

    def remove(self, ids: Ids) -> int:
        present = [int(i) for i in as_ids(ids) if int(i) not in self._dead and self._has(int(i))]
        self._dead.update(present)
        self._selector = None
        if len(self._dead) > COMPACT_FRACTION * max(self._index.ntotal, 1):
            self._compact()
        return len(present)

    def _has(self, id_: int) -> bool:
        try:
            self._index.reconstruct(id_)
        except RuntimeError:
            return False
        return True

    def _compact(self, extra_dead: set[int] | None = None) -> None:
        dead = self._dead | (extra_dead or set())
        id_map = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        keep = np.array([i for i in id_map if int(i) not in dead], dtype=np.int64)
        vectors = (
            self._index.reconstruct_batch(keep)
            if len(keep)
            else np.zeros((0, self.dim), np.float32)
        )
        self._index, self._dead, self._selector = self._empty(), set(), None
        if len(keep):
            self._index.add_with_ids(vectors, keep)

    def search(
        self, queries: Vectors, k: int, id_filter: IdFilter | None = None
    ) -> tuple[Scores, Ids]:
        """A filter becomes part of the IDSelector (with the tombstones). The graph is still
        walked through filtered-out nodes, so to find k that pass, efSearch grows by the
        inverse of the fraction kept (up to EF_FILTER_CAP); very selective filters are
        meant to be scored exactly instead (see query/plan.py)."""
        return self._search(queries, k, id_filter, self.ef_search)

    def _search(
        self, queries: Vectors, k: int, id_filter: IdFilter | None, ef_search: int
    ) -> tuple[Scores, Ids]:
        ef = max(ef_search, k)
        keep: list[Any] = []
        parts: list[faiss.IDSelector] = []
        if self._dead:
            if self._selector is None:
                batch = faiss.IDSelectorBatch(np.fromiter(self._dead, dtype=np.int64))
                self._selector = (faiss.IDSelectorNot(batch), batch)
            parts.append(self._selector[0])
        if id_filter is not None and not id_filter.empty:
            selector, keep = id_filter.selector()
            parts.append(selector)
            fraction = max(id_filter.fraction(self.count()), 1e-9)
            ef = max(ef, min(EF_FILTER_CAP, math.ceil(ef / fraction)))
        params = faiss.SearchParametersHNSW(efSearch=ef)
        if parts:
            params.sel = combine(parts, keep)
        scores, ids = self._index.search(as_vectors(queries, self.dim), k, params=params)
        del keep
        return scores, ids

    def stored_vectors(self, ids: Ids) -> tuple[Ids, Vectors]:
        ids = as_ids(ids)
        if self._dead:
            ids = ids[~np.isin(ids, np.fromiter(self._dead, dtype=np.int64))]
        return reconstruct(self._index, ids, self.dim)

    def count(self) -> int:
        return int(self._index.ntotal) - len(self._dead)

    def params(self) -> dict[str, str]:
        return {
            "M": str(self.m),
            "efConstruction": str(self.ef_construction),
            "efSearch": str(self.ef_search),
        }

    def note(self) -> str:
        notes = [self.tuned.note("efSearch")] if self.tuned is not None else []
        if self._dead:
            notes.append(f"{len(self._dead)} removed ids awaiting compaction")
        return "; ".join(notes)

    def to_bytes(self) -> bytes:
        dead = np.fromiter(self._dead, dtype=np.int64, count=len(self._dead))
        return pack(serialize(self._index), dead.tobytes())
