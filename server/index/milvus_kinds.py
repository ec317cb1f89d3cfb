"""The index kinds on Milvus: each of scenesearch's kinds mapped to a Milvus index type, with
its build and search parameters (same parameter names as the FAISS kinds).

flat → FLAT, hnsw → HNSW, ivfpq → IVF_PQ (candidates re-ranked exactly with the stored
vectors, as the FAISS kind does), lsh → the same SimHash codes as index/lsh.py in a
BINARY_VECTOR collection searched by HAMMING, re-ranked exactly. Every kind returns cosine
scores (invariant 5).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from scenesearch.contract import INDEX_KINDS, require_registered
from scenesearch.server.index.base import int_param
from scenesearch.server.index.ivfpq import usable_m

Params = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class MilvusKind:
    index_type: str
    metric: str
    # (params, dim) -> Milvus build parameters
    build: Callable[[Params, int], dict[str, Any]]
    # (params, k) -> Milvus search parameters
    search: Callable[[Params, int], dict[str, Any]]
    # candidates per result for the exact re-rank (0: Milvus' scores are exact already)
    rerank: Callable[[Params], int]
    binary: bool = False
    # False: filter the candidates here instead of in Milvus (see IVF_PQ below).
    filters_inside: bool = True

    def effective(self, params: Params, dim: int) -> dict[str, str]:
        shown = {k: str(v) for k, v in self.build(params, dim).items()}
        shown.update({k: str(v) for k, v in self.search(params, 1).items()})
        if self.rerank(params) or "rerank" in params:
            shown["rerank"] = str(self.rerank(params))
        return shown


def _none(params: Params, _: int) -> dict[str, Any]:
    return {}


def _no_rerank(params: Params) -> int:
    return 0


def lsh_nbits(params: Params) -> int:
    nbits = int_param(params, "nbits", 1024, 8)
    if nbits % 8:
        raise ValueError(f"index parameter nbits={nbits} must be a multiple of 8 on Milvus")
    return nbits


KINDS: dict[str, MilvusKind] = {
    "flat": MilvusKind("FLAT", "IP", _none, _none, _no_rerank),
    "hnsw": MilvusKind(
        "HNSW",
        "IP",
        lambda p, d: {
            "M": int_param(p, "M", 32, 2),
            "efConstruction": int_param(p, "efConstruction", 80),
        },
        lambda p, k: {"ef": max(int_param(p, "efSearch", 128), k)},
        _no_rerank,
    ),
    "ivfpq": MilvusKind(
        "IVF_PQ",
        "IP",
        lambda p, d: {
            "nlist": int_param(p, "nlist", 1024),
            "m": usable_m(d, int_param(p, "m", 64)),
            "nbits": 8,
        },
        lambda p, k: {"nprobe": int_param(p, "nprobe", 16)},
        lambda p: int_param(p, "rerank", 4, 0),
        # Milvus 2.3.5's IVF_PQ searched with a filter expression returned other rows' ids
        # beside the right distances (e.g. 40 for 31, 2992 for 2982; seen in
        # tests/milvus), so the filter is applied to unfiltered candidates before the
        # exact re-rank, as the FAISS LSH kind does.
        filters_inside=False,
    ),
    "lsh": MilvusKind(
        "BIN_FLAT",
        "HAMMING",
        lambda p, d: {"nbits": lsh_nbits(p)},
        _none,
        lambda p: int_param(p, "rerank", 10, 0),
        binary=True,
    ),
}
require_registered("Milvus index kind", INDEX_KINDS, KINDS)


class SimHash:
    """The LSH kind's codes: FAISS IndexLSH with the same settings as index/lsh.py (random
    rotation, fixed seed), so the codes equal the FAISS kind's bit for bit."""

    def __init__(self, dim: int, nbits: int) -> None:
        self.nbits = nbits
        self._lsh = faiss.IndexLSH(dim, nbits, True, False)

    def codes(self, vectors: np.ndarray) -> list[bytes]:
        packed = self._lsh.sa_encode(np.ascontiguousarray(vectors, dtype=np.float32))
        return [row.tobytes() for row in packed]

    def cosine(self, hamming: np.ndarray) -> np.ndarray:
        """SimHash cosine estimate of a Hamming distance (rerank=0)."""
        return np.cos(np.pi * hamming / self.nbits).astype(np.float32)
