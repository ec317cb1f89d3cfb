"""Vector index kinds, registered by name; each kind lives in a file of its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from scenesearch.contract import INDEX_KINDS, check_choice, require_registered
from scenesearch.server.index.base import VectorIndex, VectorLookup
from scenesearch.server.index.flat import FlatIndex
from scenesearch.server.index.hnsw import HnswIndex
from scenesearch.server.index.ivfpq import IvfPqIndex
from scenesearch.server.index.lsh import LshIndex

Factory = Callable[[int, Mapping[str, str], VectorLookup], VectorIndex]
Loader = Callable[[int, Mapping[str, str], VectorLookup, bytes], VectorIndex]

# The registry: one line per kind named in scenesearch.contract.INDEX_KINDS.
KINDS: dict[str, tuple[Factory, Loader]] = {
    "flat": (FlatIndex.create, FlatIndex.from_bytes),
    "hnsw": (HnswIndex.create, HnswIndex.from_bytes),
    "ivfpq": (IvfPqIndex.create, IvfPqIndex.from_bytes),
    "lsh": (LshIndex.create, LshIndex.from_bytes),
}
require_registered("index kind", INDEX_KINDS, KINDS)


def _factories(kind: str) -> tuple[Factory, Loader]:
    return KINDS[check_choice("index kind", kind, INDEX_KINDS)]


def create_index(
    kind: str, dim: int, params: Mapping[str, str], lookup: VectorLookup
) -> VectorIndex:
    return _factories(kind)[0](dim, params, lookup)


def load_index(
    kind: str, dim: int, params: Mapping[str, str], lookup: VectorLookup, data: bytes
) -> VectorIndex:
    return _factories(kind)[1](dim, params, lookup, data)
