"""Vector index kinds, registered by name; each kind lives in a file of its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from scenesearch.server.index.base import VectorIndex, VectorLookup
from scenesearch.server.index.flat import FlatIndex
from scenesearch.server.index.hnsw import HnswIndex
from scenesearch.server.index.ivfpq import IvfPqIndex
from scenesearch.server.index.lsh import LshIndex

Factory = Callable[[int, Mapping[str, str], VectorLookup], VectorIndex]
Loader = Callable[[int, Mapping[str, str], VectorLookup, bytes], VectorIndex]

KINDS: dict[str, tuple[Factory, Loader]] = {
    "flat": (FlatIndex.create, FlatIndex.from_bytes),
    "hnsw": (HnswIndex.create, HnswIndex.from_bytes),
    "ivfpq": (IvfPqIndex.create, IvfPqIndex.from_bytes),
    "lsh": (LshIndex.create, LshIndex.from_bytes),
}


def _factories(kind: str) -> tuple[Factory, Loader]:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown index kind {kind!r}; choose from {sorted(KINDS)}") from None


def create_index(
    kind: str, dim: int, params: Mapping[str, str], lookup: VectorLookup
) -> VectorIndex:
    return _factories(kind)[0](dim, params, lookup)


def load_index(
    kind: str, dim: int, params: Mapping[str, str], lookup: VectorLookup, data: bytes
) -> VectorIndex:
    return _factories(kind)[1](dim, params, lookup, data)
