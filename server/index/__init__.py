"""Vector index kinds, registered by name; each kind lives in a file of its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from scenesearch.server.index.base import VectorIndex
from scenesearch.server.index.flat import FlatIndex

Factory = Callable[[int, Mapping[str, str]], VectorIndex]
Loader = Callable[[int, Mapping[str, str], bytes], VectorIndex]

KINDS: dict[str, tuple[Factory, Loader]] = {
    "flat": (FlatIndex.create, FlatIndex.from_bytes),
}


def create_index(kind: str, dim: int, params: Mapping[str, str]) -> VectorIndex:
    try:
        factory, _ = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown index kind {kind!r}; choose from {sorted(KINDS)}") from None
    return factory(dim, params)


def load_index(kind: str, dim: int, params: Mapping[str, str], data: bytes) -> VectorIndex:
    _, loader = KINDS[kind]
    return loader(dim, params, data)
