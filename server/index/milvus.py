"""The search index on Milvus (`--backend milvus`): the LiveIndex contract the query layer
uses (search with an id filter, count, add/remove, rebuild to another kind, save), served by
the scene collection that storage/milvus_vectors.py writes.

A subclass of LiveIndex only so the query layer's annotations hold; it shares none of its
FAISS state. Filters become Milvus expressions (`id in [...]`, `id not in [...]`) evaluated
inside the engine. Adds and removes of float kinds are no-ops here: the vector store wrote or
dropped the rows with the catalog. The LSH kind keeps its SimHash codes in a collection of
their own (Milvus 2.3 allows one vector field per collection), maintained here and rebuilt
at open when it does not match the catalog.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from scenesearch.contract import INDEX_KINDS, check_choice
from scenesearch.server.domain import Vectors
from scenesearch.server.index.base import (
    IdFilter,
    Ids,
    Scores,
    as_ids,
    as_vectors,
    rerank,
    rerank_fetch,
)
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.index.milvus_kinds import KINDS, SimHash, lsh_nbits
from scenesearch.server.index.rwlock import ReadWriteLock
from scenesearch.server.metrics.base import NO_METRICS, Metrics
from scenesearch.server.storage.milvus_target import id_list
from scenesearch.server.storage.milvus_vectors import MilvusVectors
from scenesearch.server.storage.store import Store

log = logging.getLogger(__name__)

MAX_LIMIT = 16384  # Milvus' largest top-k
# GetStats shows Milvus' own search parameter names (milvus_kinds.py); the setting each one
# comes from, for a replica that takes the primary's parameters from its GetStats.
SETTING_OF_SHOWN = {"ef": "efSearch"}
INDEX_WAIT_S = 1800.0


class MilvusIndex(LiveIndex):
    def __init__(
        self,
        store: Store,
        vectors: MilvusVectors,
        kind: str,
        params: Mapping[str, str],
        metrics: Metrics = NO_METRICS,
    ) -> None:
        # No super().__init__(): nothing of the FAISS index applies here.
        self._store, self._vectors = store, vectors
        self._client: Any = vectors.client
        self._metrics = metrics
        self._kind = check_choice("index kind", kind, INDEX_KINDS)
        self._params = dict(params)
        KINDS[self._kind].build(self._params, max(store.dim, 1))  # bad params fail here
        self._lock = ReadWriteLock()
        self._rebuild_lock = threading.Lock()
        self._count = 0
        self.generation = -1
        # A search replica (server/replica/) serves the primary's index as it is: it never
        # builds, drops or writes anything; follow() tracks the primary's kind instead.
        self.read_only = vectors.read_only

    @property
    def kind(self) -> str:
        return self._kind

    def params(self) -> dict[str, str]:
        return {"backend": "milvus", **KINDS[self._kind].effective(self._params, self._store.dim)}

    def note(self) -> str:
        if KINDS[self._kind].binary and KINDS[self._kind].rerank(self._params) == 0:
            return "Hamming-only: scores are SimHash cosine estimates, not exact"
        return ""

    def count(self) -> int:
        return self._count

    def _codes_name(self, params: Mapping[str, str]) -> str:
        return f"{self._vectors.scenes}_codes{lsh_nbits(params)}"

    # --- open / rebuild -----------------------------------------------------------------------

    def open(self) -> None:
        """Make the collection's index match the settings; rebuild LSH codes that do not
        match the catalog."""
        self._count = self._store.counts()[1]
        self.generation = self._store.generation()
        reason = self._mismatch()
        if reason and self.read_only:
            log.warning("serving the primary's Milvus index as it is: %s", reason)
        elif reason:
            log.info("building the Milvus %s index: %s", self._kind, reason)
            self.rebuild(self._kind, self._params)

    def _mismatch(self) -> str:
        spec = KINDS[self._kind]
        if spec.binary:
            name = self._codes_name(self._params)
            if not self._client.has_collection(name):
                return "no code collection"
            rows = self._client.query(
                name, filter="", output_fields=["count(*)"], consistency_level="Strong"
            )
            if int(rows[0]["count(*)"]) != self._count:
                return "codes do not match the catalog"
            return ""
        have = self._described()
        want = {"index_type": spec.index_type, **spec.build(self._params, self._store.dim)}
        if {k: str(have.get(k)) for k in want} != {k: str(v) for k, v in want.items()}:
            return f"collection has {have}, settings ask for {want}"
        return ""

    def _described(self) -> dict[str, Any]:
        names = self._client.list_indexes(self._vectors.scenes)
        if not names:
            return {}
        info = dict(self._client.describe_index(self._vectors.scenes, names[0]))
        return info

    def rebuild(self, kind: str, params: Mapping[str, str]) -> tuple[int, float]:
        """Re-index the scene collection as `kind` (or rebuild LSH codes), then serve it."""
        kind = check_choice("index kind", kind, INDEX_KINDS)
        spec = KINDS[kind]
        build = spec.build(params, self._store.dim)  # bad params fail before any change
        if self.read_only:
            raise ValueError("a search replica cannot rebuild the index; ask the primary")
        with self._rebuild_lock, self._lock.write(), self._metrics.backend("milvus", "rebuild"):
            started = time.perf_counter()
            if spec.binary:
                self._build_codes(params)
            else:
                scenes = self._vectors.scenes
                # Seal what is in growing segments: Milvus indexes sealed segments only.
                self._client.flush(scenes)
                self._client.release_collection(scenes)
                for name in self._client.list_indexes(scenes):
                    self._client.drop_index(scenes, name)
                index = self._client.prepare_index_params()
                index.add_index(
                    "vector", index_type=spec.index_type, metric_type=spec.metric, params=build
                )
                self._client.create_index(scenes, index)
                self._wait_indexed(scenes, "vector")
                self._client.load_collection(scenes)
            self._kind, self._params = kind, dict(params)
            seconds = time.perf_counter() - started
        log.info("built Milvus %s index: %d vectors in %.2fs", kind, self._count, seconds)
        return self._count, seconds

    def follow(self, kind: str, params: Mapping[str, str], count: int, generation: int) -> None:
        """Read-only: serve what the primary built (its kind and parameters as its GetStats
        shows them, after a RebuildIndex there) and count what the replica's catalog holds."""
        kind = check_choice("index kind", kind, INDEX_KINDS)
        params = {SETTING_OF_SHOWN.get(k, k): v for k, v in params.items()}
        KINDS[kind].build(params, self._store.dim)  # unknown parameters fail here
        with self._lock.write():
            self._kind, self._params = kind, dict(params)
            self._count, self.generation = count, generation

    def _wait_indexed(self, collection: str, field: str) -> None:
        """Index building is asynchronous: wait until every sealed row is indexed, so the
        collection serves the new kind at its own speed as soon as it is loaded."""
        deadline = time.monotonic() + INDEX_WAIT_S
        while time.monotonic() < deadline:
            names = self._client.list_indexes(collection, field_name=field)
            info = self._client.describe_index(collection, names[0]) if names else {}
            if int(info.get("pending_index_rows", 0)) == 0 and info.get("state") != "InProgress":
                return
            time.sleep(0.5)
        log.warning("the %s index of %s is still building; serving meanwhile", field, collection)

    def _build_codes(self, params: Mapping[str, str]) -> None:
        from pymilvus import DataType, MilvusClient

        name, nbits = self._codes_name(params), lsh_nbits(params)
        if self._client.has_collection(name):
            self._client.drop_collection(name)
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("code", DataType.BINARY_VECTOR, dim=nbits)
        index = self._client.prepare_index_params()
        index.add_index("code", index_type="BIN_FLAT", metric_type="HAMMING")
        self._client.create_collection(name, schema=schema, index_params=index)
        self._client.load_collection(name)
        hasher = SimHash(self._store.dim, nbits)
        for ids, vectors in self._store.iter_scene_vectors():
            self._insert_codes(name, hasher, ids, vectors)

    def _insert_codes(self, name: str, hasher: SimHash, ids: Ids, vectors: Vectors) -> None:
        rows = [
            {"id": int(i), "code": code}
            for i, code in zip(ids.tolist(), hasher.codes(vectors), strict=True)
        ]
        self._vectors.insert(name, rows)

    # --- writes -------------------------------------------------------------------------------

    def add(self, ids: Ids, vectors: Vectors, generation: int) -> None:
        ids = as_ids(ids)
        with self._lock.read(), self._metrics.backend("milvus", "add"):
            if KINDS[self._kind].binary and not self.read_only:
                hasher = SimHash(self._store.dim, lsh_nbits(self._params))
                self._insert_codes(self._codes_name(self._params), hasher, ids, vectors)
            self._count += len(ids)
            self.generation = generation

    def remove(self, ids: Ids, generation: int) -> None:
        ids = as_ids(ids)
        with self._lock.read(), self._metrics.backend("milvus", "remove"):
            if KINDS[self._kind].binary and len(ids) and not self.read_only:
                self._client.delete(self._codes_name(self._params), ids=ids.tolist())
            self._count = max(0, self._count - len(ids))
            self.generation = generation

    def save(self) -> bool:
        return False  # Milvus persists its own data

    # --- reads --------------------------------------------------------------------------------

    def stored_vectors(self, ids: Ids) -> tuple[Ids, Vectors]:
        return self._store.lookup_vectors(as_ids(ids))

    def search(
        self, queries: Vectors, k: int, id_filter: IdFilter | None = None
    ) -> tuple[Scores, Ids]:
        queries = as_vectors(queries, self._store.dim)
        k = max(1, min(k, MAX_LIMIT))
        expr = filter_expr(id_filter)
        with self._lock.read(), self._metrics.backend("milvus", "search"):
            spec = KINDS[self._kind]
            factor = spec.rerank(self._params)
            if spec.binary:
                return self._search_codes(queries, k, expr, factor)
            if factor == 0:
                return self._search(self._vectors.scenes, "vector", queries, k, expr, spec)
            wanted = rerank_fetch(k, factor)
            if spec.filters_inside or id_filter is None or id_filter.empty:
                fetch = min(wanted, MAX_LIMIT)
                _, found = self._search(self._vectors.scenes, "vector", queries, fetch, expr, spec)
                return rerank(queries, found, k, self._store.lookup_vectors, None, fetch)
            # Enough unfiltered candidates that `wanted` of them are expected to pass.
            share = max(id_filter.fraction(max(self._count, 1)), 1e-9)
            fetch = min(math.ceil(wanted / share) + len(id_filter.deny), MAX_LIMIT)
            _, found = self._search(self._vectors.scenes, "vector", queries, fetch, "", spec)
            return rerank(queries, found, k, self._store.lookup_vectors, id_filter, wanted)

    def _search_codes(self, queries: Vectors, k: int, expr: str, factor: int) -> tuple[Scores, Ids]:
        hasher = SimHash(self._store.dim, lsh_nbits(self._params))
        codes = hasher.codes(queries)
        name, spec = self._codes_name(self._params), KINDS["lsh"]
        if factor == 0:
            hamming, ids = self._search(name, "code", codes, k, expr, spec)
            return hasher.cosine(hamming), ids
        fetch = min(rerank_fetch(k, factor), MAX_LIMIT)
        _, candidates = self._search(name, "code", codes, fetch, expr, spec)
        return rerank(queries, candidates, k, self._store.lookup_vectors, None, fetch)

    def _search(
        self, collection: str, field: str, queries: Any, k: int, expr: str, spec: Any
    ) -> tuple[Scores, Ids]:
        data = [q.tolist() for q in queries] if isinstance(queries, np.ndarray) else queries
        results = self._client.search(
            collection,
            data=data,
            anns_field=field,
            limit=k,
            filter=expr,
            search_params={"metric_type": spec.metric, "params": spec.search(self._params, k)},
            consistency_level=self._vectors.target.consistency,
        )
        fill = math.inf if spec.binary else -math.inf
        scores = np.full((len(data), k), fill, dtype=np.float32)
        ids = np.full((len(data), k), -1, dtype=np.int64)
        for row, hits in enumerate(results):
            got = list(hits)[:k]
            ids[row, : len(got)] = [h["id"] for h in got]
            scores[row, : len(got)] = [h["distance"] for h in got]
        return scores, ids


def filter_expr(id_filter: IdFilter | None) -> str:
    """The Milvus expression of an IdFilter ('' lets every row through)."""
    if id_filter is None or id_filter.empty:
        return ""
    parts = []
    if id_filter.allow is not None:
        parts.append(f"id in {id_list(id_filter.allow)}")
    if len(id_filter.deny):
        parts.append(f"id not in {id_list(id_filter.deny)}")
    return " and ".join(parts)
