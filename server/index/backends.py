"""The vector backends (`--backend`), registered by name: where a store's vectors live
(a VectorStore, storage/vectors.py) and what searches them (the LiveIndex contract).

faiss: vectors in the SQLite catalog rows, an in-process FAISS index (index/live.py).
milvus: vectors in Milvus collections (storage/milvus_vectors.py), searched by Milvus
(index/milvus.py); SQLite stays the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from scenesearch.contract import require_registered
from scenesearch.server.config import BACKENDS, Settings
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.metrics.base import Metrics
from scenesearch.server.storage.store import Store
from scenesearch.server.storage.vectors import VectorStoreFactory


@dataclass(frozen=True, slots=True)
class Backend:
    # Settings -> the factory of the store's VectorStore (None: SQLite, the default).
    vectors: Callable[[Settings], VectorStoreFactory | None]
    index: Callable[[Store, Settings, Metrics], LiveIndex]
    # Per-kind overrides of the search planner's exact-scoring limits (query/plan.py).
    exact_limits: Mapping[str, int | None] = field(default_factory=dict)


def _faiss_index(store: Store, settings: Settings, metrics: Metrics) -> LiveIndex:
    if store.meta("vectors") == "milvus":  # storage/milvus_vectors.py MOVED_KEY
        raise ValueError(
            f"{store.path.parent} keeps its vectors in Milvus (its catalog rows hold none): "
            "start it with --backend milvus --milvus-uri URI (and the same --milvus-prefix)"
        )
    return LiveIndex(store, settings.data_dir, settings.index_kind, settings.index_params, metrics)


def _milvus_vectors(settings: Settings) -> VectorStoreFactory:
    from scenesearch.server.storage.milvus_vectors import MilvusVectors

    target = settings.milvus
    if target is None:
        raise ValueError("--backend milvus needs --milvus-uri")
    return lambda store: MilvusVectors(store, target)


def _milvus_index(store: Store, settings: Settings, metrics: Metrics) -> LiveIndex:
    from scenesearch.server.index.milvus import MilvusIndex
    from scenesearch.server.storage.milvus_vectors import MilvusVectors

    vectors = store.vectors
    if not isinstance(vectors, MilvusVectors):
        raise TypeError("a Milvus index needs a store opened with the Milvus vector store")
    return MilvusIndex(store, vectors, settings.index_kind, settings.index_params, metrics)


REGISTRY: dict[str, Backend] = {
    "faiss": Backend(lambda settings: None, _faiss_index),
    # Milvus filters inside the engine, exactly for FLAT and for HNSW (which scans the rows
    # a narrow filter keeps): pulling a selection's vectors out to score them costs more.
    # IVF-PQ and LSH are approximate, so small selections stay scored exactly (plan.py).
    "milvus": Backend(_milvus_vectors, _milvus_index, {"flat": None, "hnsw": None}),
}
require_registered("backend", BACKENDS, REGISTRY)
