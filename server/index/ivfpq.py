"""`ivfpq`: inverted lists with product-quantised codes (FAISS IndexIVFPQ, inner product).
Params: nlist (default ≈ √n), m (sub-quantisers, default 64), nprobe (default: tuned at each
build for recall@10 0.95, from 16 or 5% of the lists when that is more, up to half of them;
see tuning.py), rerank
(candidates per result re-scored exactly; default 4, 0 = PQ scores), min_train.

It is trained on the stored vectors. Below `min_train` vectors (default max(1000, 39 * nlist),
FAISS's own guidance for k-means) it searches exactly instead, and says so in GetStats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import faiss

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
from scenesearch.server.index.tuning import RecallProbe, Tuned, ladder, tune


def auto_nlist(n: int) -> int:
    return int(min(65536, max(1, round(math.sqrt(max(n, 1))))))


def auto_nprobe(nlist: int) -> int:
    """Probe at least 5% of the lists. A fixed 16 probed 5% at 100k scenes (nlist 316, recall
    0.99 in bench/search.py) but 1.6% at 1M (nlist 1,000), where recall@10 fell to 0.32."""
    return max(16, math.ceil(nlist / 20))


def usable_m(dim: int, m: int) -> int:
    """The largest divisor of dim not above m (PQ needs dim % m == 0)."""
    return max(d for d in range(1, min(m, dim) + 1) if dim % d == 0)


class IvfPqIndex(IdMappedIndex):
    kind = "ivfpq"

    def __init__(
        self,
        dim: int,
        params: Mapping[str, str],
        lookup: VectorLookup,
        index: faiss.Index | None = None,
    ) -> None:
        # Exact until trained (see train), then the IVF-PQ index.
        super().__init__(
            dim, index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        )
        self._params = dict(params)
        self._lookup = lookup
        self.m = usable_m(dim, int_param(params, "m", 64))
        self.nprobe = int_param(params, "nprobe", 16)
        self.rerank_factor = int_param(params, "rerank", 4, 0)
        self.nlist = 0
        self.tuned: Tuned | None = None
        self.fallback_reason = "not trained yet"
        if index is not None and not isinstance(index, faiss.IndexIDMap2):
            self._trained(index)

    @classmethod
    def create(cls, dim: int, params: Mapping[str, str], lookup: VectorLookup) -> IvfPqIndex:
        return cls(dim, params, lookup)

    @classmethod
    def from_bytes(
        cls, dim: int, params: Mapping[str, str], lookup: VectorLookup, data: bytes
    ) -> IvfPqIndex:
        return cls(dim, params, lookup, deserialize(data))

    def _trained(self, index: faiss.Index) -> None:
        ivf = faiss.extract_index_ivf(index)
        self.nlist = int(ivf.nlist)
        if "nprobe" not in self._params:  # saved with the index: the value tuned at its build
            self.nprobe = max(auto_nprobe(self.nlist), int(ivf.nprobe))
        ivf.nprobe = self.nprobe
        self.fallback_reason = ""
        self._index = index

    def set_nprobe(self, nprobe: int) -> None:
        self.nprobe = nprobe
        if not self.fallback_reason:
            faiss.extract_index_ivf(self._index).nprobe = nprobe

    def min_train(self, n: int) -> int:
        nlist = int_param(self._params, "nlist", auto_nlist(n))
        return int_param(self._params, "min_train", max(1000, 39 * nlist))

    def train(self, sample: Vectors, total: int) -> None:
        """Train on `sample` (drawn from `total` stored vectors), or stay exact if too few."""
        nlist = int_param(self._params, "nlist", auto_nlist(total))
        needed = self.min_train(total)
        if len(sample) < needed:
            self.fallback_reason = (
                f"searching exactly: IVF-PQ needs at least {needed} vectors to train "
                f"(nlist={nlist}) and the library has {len(sample)}; rebuild the index "
                "when it has grown"
            )
            return
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFPQ(quantizer, self.dim, nlist, self.m, 8, faiss.METRIC_INNER_PRODUCT)
        index.train(as_vectors(sample, self.dim))
        self._trained(index)

    def tune(self, probe: RecallProbe) -> None:
        """Raise nprobe until the probe's recall meets the target (tuning.py)."""
        if self.fallback_reason or "nprobe" in self._params:
            return
        steps = ladder(self.nprobe, max(self.nprobe, self.nlist // 2))
        self.tuned = tune(lambda q, k, nprobe: self._search(q, k, None, nprobe)[1], steps, probe)
        self.set_nprobe(self.tuned.value)

    def search(
        self, queries: Vectors, k: int, id_filter: IdFilter | None = None
    ) -> tuple[Scores, Ids]:
        """The IVF scan applies the filter's selector; a selective filter probes more lists
        (nprobe / fraction kept, up to nlist), since fewer of each list's vectors count, and
        re-ranks more candidates (k * rerank * 0.5 / fraction, at most 4x, when the filter
        keeps under half)."""
        queries = as_vectors(queries, self.dim)
        if self.fallback_reason:
            return self._filtered_search(queries, k, id_filter)
        return self._search(queries, k, id_filter, self.nprobe)

    def _search(
        self, queries: Vectors, k: int, id_filter: IdFilter | None, nprobe: int
    ) -> tuple[Scores, Ids]:
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        fraction = 1.0
        if id_filter is not None:
            fraction = max(id_filter.fraction(self.count()), 1e-9)
            params.nprobe = min(self.nlist, max(nprobe, math.ceil(nprobe / fraction)))
        if self.rerank_factor == 0:
            return self._filtered_search(queries, k, id_filter, params)
        # A filtered search re-ranks as many candidates as the unfiltered one would find
        # among the same share of the library, so its recall does not fall below it.
        widen = min(4.0, max(1.0, 0.5 / fraction))
        fetch = math.ceil(rerank_fetch(k, self.rerank_factor) * widen)
        fetch = min(fetch, max(int(self._index.ntotal), 1))
        _, candidates = self._filtered_search(queries, fetch, id_filter, params)
        return rerank(queries, candidates, k, self._lookup)

    def stored_vectors(self, ids: Ids) -> tuple[Ids, Vectors]:
        if self.fallback_reason:  # still exact: the flat storage holds the raw vectors
            return super().stored_vectors(ids)
        return self._lookup(ids)  # PQ codes are lossy: the store has the exact vectors

    def params(self) -> dict[str, str]:
        return {
            "nlist": str(self.nlist),
            "m": str(self.m),
            "nprobe": str(self.nprobe),
            "rerank": str(self.rerank_factor),
        }

    def note(self) -> str:
        if self.tuned is not None and not self.fallback_reason:
            return self.tuned.note("nprobe")
        return self.fallback_reason
