"""The live index: a VectorIndex behind a readers-writer lock, persisted and rebuildable.

The FAISS index is a cache derived from SQLite. Its file records the store generation it
reflects; a missing, stale, unreadable or differently-configured file is rebuilt from SQLite.
A rebuild runs beside the serving index and is swapped in at the end, replaying any change
made meanwhile, so searches never wait for a whole rebuild.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from scenesearch.server.domain import Vectors
from scenesearch.server.index import create_index, load_index, tuning
from scenesearch.server.index.base import (
    IdFilter,
    Ids,
    Scores,
    VectorIndex,
    as_ids,
    read_envelope,
    write_atomic,
)
from scenesearch.server.index.rwlock import ReadWriteLock
from scenesearch.server.metrics.base import NO_METRICS, Metrics
from scenesearch.server.storage.store import Store

log = logging.getLogger(__name__)

INDEX_FILE = "index.faiss"
TRAIN_SAMPLE = 256 * 1024  # vectors drawn to train quantisers (IVF-PQ)


class LiveIndex:
    def __init__(
        self,
        store: Store,
        directory: Path,
        kind: str,
        params: Mapping[str, str],
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._store = store
        self._metrics = metrics
        # The SQLite reads an index kind makes itself (LSH's exact re-rank).
        self._lookup = metrics.timed(store.lookup_vectors, "sqlite", "lookup_vectors")
        self.path = directory / INDEX_FILE
        self._lock = ReadWriteLock()
        self._index: VectorIndex = create_index(kind, max(store.dim, 1), params, self._lookup)
        self._params = dict(params)
        self.generation = -1
        self._saved_generation = -1
        # Changes made while a rebuild runs, replayed onto the new index before the swap.
        self._pending: list[tuple[str, Ids, Vectors | None]] | None = None
        self._rebuild_lock = threading.Lock()
        self._save_lock = threading.Lock()

    @property
    def kind(self) -> str:
        return self._index.kind

    def params(self) -> dict[str, str]:
        return self._index.params()

    def note(self) -> str:
        return self._index.note()

    def count(self) -> int:
        return self._index.count()

    def open(self) -> None:
        """Load the saved index if it matches the store and the settings; else rebuild."""
        reason = self._try_load()
        if reason:
            log.info("rebuilding the %s index from SQLite: %s", self.kind, reason)
            self.rebuild(self.kind, self._params)

    def _try_load(self) -> str:
        if not self.path.exists():
            return "no saved index"
        try:
            header, payload = read_envelope(self.path)
        except (OSError, ValueError) as exc:
            return f"saved index unreadable ({exc})"
        wanted = {"kind": self.kind, "params": self._params, "dim": self._store.dim}
        have = {k: header.get(k) for k in wanted}
        if have != wanted:
            return f"saved index is {have}, settings ask for {wanted}"
        generation = self._store.generation()
        if header.get("generation") != generation:
            return f"saved index is at generation {header.get('generation')}, store at {generation}"
        try:
            index = load_index(self.kind, self._store.dim, self._params, self._lookup, payload)
        except Exception as exc:  # a damaged payload is just a cache miss
            return f"saved index unreadable ({exc})"
        with self._lock.write():
            self._index = index
            self.generation = self._saved_generation = generation
        log.info(
            "loaded %s index with %d vectors (generation %d)", self.kind, index.count(), generation
        )
        return ""

    def search(
        self, queries: Vectors, k: int, id_filter: IdFilter | None = None
    ) -> tuple[Scores, Ids]:
        k = max(1, min(k, max(self._index.count(), 1)))
        with self._lock.read(), self._metrics.backend("faiss", "search"):
            return self._index.search(queries, k, id_filter)

    def stored_vectors(self, ids: Ids) -> tuple[Ids, Vectors]:
        """Exact vectors of the ids the index holds, in the order given."""
        with self._lock.read():
            return self._index.stored_vectors(as_ids(ids))

    def add(self, ids: Ids, vectors: Vectors, generation: int) -> None:
        ids = as_ids(ids)
        with self._lock.write(), self._metrics.backend("faiss", "add"):
            self._index.add(ids, vectors)
            self.generation = generation
            if self._pending is not None:
                self._pending.append(("add", ids, vectors))

    def remove(self, ids: Ids, generation: int) -> None:
        ids = as_ids(ids)
        with self._lock.write(), self._metrics.backend("faiss", "remove"):
            self._index.remove(ids)
            self.generation = generation
            if self._pending is not None:
                self._pending.append(("remove", ids, None))

    def rebuild(self, kind: str, params: Mapping[str, str]) -> tuple[int, float]:
        """Build a `kind` index from SQLite beside the live one, then swap it in."""
        with self._rebuild_lock:
            started = time.perf_counter()
            with self._lock.write():
                self._pending = []
                generation = self._store.generation()
            try:
                with self._metrics.backend("faiss", "rebuild"):
                    fresh = self._build(kind, params)
                with self._lock.write():
                    for op, ids, vectors in self._pending or []:
                        if op == "add" and vectors is not None:
                            fresh.remove(ids)  # the build may already have read them
                            fresh.add(ids, vectors)
                        else:
                            fresh.remove(ids)
                    self._index, self._params = fresh, dict(params)
                    self.generation = max(self.generation, generation)
                    self._saved_generation = -1  # a new index, if at the same generation
            finally:
                with self._lock.write():
                    self._pending = None
            seconds = time.perf_counter() - started
            log.info("built %s index: %d vectors in %.2fs", kind, fresh.count(), seconds)
            self.save()
            return fresh.count(), seconds

    def _build(self, kind: str, params: Mapping[str, str]) -> VectorIndex:
        index = create_index(kind, max(self._store.dim, 1), params, self._lookup)
        total = self._store.counts()[1]
        train = getattr(index, "train", None)
        if train is not None:
            log.info("training the %s index on up to %d vectors", kind, TRAIN_SAMPLE)
            train(self._store.sample_scene_vectors(TRAIN_SAMPLE), total)
        tuner = getattr(index, "tune", None)
        truth = None
        if tuner is not None and total >= tuning.MIN_VECTORS:
            truth = tuning.TruthBuilder(self._store.sample_scene_vectors(tuning.PROBE_QUERIES))
        done, next_report = 0, total // 10
        for ids, vectors in self._store.iter_scene_vectors():
            index.add(ids, vectors)
            if truth is not None:
                truth.add(ids, vectors)
            done += len(ids)
            if total >= 100_000 and done >= next_report:
                log.info(
                    "rebuilding the %s index: %d/%d vectors (%d%%)",
                    kind,
                    done,
                    total,
                    100 * done // total,
                )
                next_report += total // 10
        if tuner is not None and truth is not None:
            tuner(truth.probe())
            log.info("%s index: %s", kind, index.note())
        return index

    def save(self) -> bool:
        """Persist atomically if anything changed since the last save."""
        with self._save_lock:
            with self._lock.read():
                if self.generation == self._saved_generation:
                    return False
                payload = self._index.to_bytes()
                generation = self.generation
                header = {
                    "kind": self.kind,
                    "params": self._params,
                    "dim": self._store.dim,
                    "generation": generation,
                    "count": self._index.count(),
                }
            with self._metrics.backend("faiss", "save"):
                write_atomic(self.path, header, payload)
            self._saved_generation = generation
            return True
