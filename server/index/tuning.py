"""Search parameters tuned to a recall target when an approximate index is built.

Why: the recall an approximate index reaches at fixed parameters depends on the library. On
bench/search.py's library, HNSW at efSearch 128 found 0.99 of the true top 10 at 100k scenes
but 0.91 at 1M; IVF-PQ probing 5% of its lists 0.99 at 100k and 0.53 at 1M. A default that
is right at one size is wrong at another, so after a build the index measures itself.

How: PROBE_QUERIES stored scene vectors, drawn at random, are the queries. Their exact top
K is found while the build reads every vector anyway (one product per batch). Then the
index's knob (HNSW's efSearch, IVF-PQ's nprobe) walks up a ladder from its default until
recall@K, each query's own scene left out, reaches TARGET_RECALL; the knob never goes below
the default, and stops at the ladder's top (GetStats then says what recall it measured). A
knob set by the user is left alone. The tuned value is saved with the index; it is measured
again at the next rebuild.

Stored vectors are easier queries than text ones (they lie on the data), so this is a floor
for the parameters, not a promise for every query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from scenesearch.server.domain import Vectors
from scenesearch.server.index.base import Ids

TARGET_RECALL = 0.95
PROBE_QUERIES = 100
K = 10
# Below this many vectors no index is tuned: the defaults search most of such a library.
MIN_VECTORS = 5000


@dataclass(frozen=True, slots=True)
class RecallProbe:
    queries: Vectors  # (q, dim)
    own_ids: Ids  # (q,) each query's own scene (-1: not found in the library)
    truth: Ids  # (q, K) exact top K of each query, its own scene left out


@dataclass(frozen=True, slots=True)
class Tuned:
    value: int
    recall: float

    def note(self, knob: str) -> str:
        met = "meets" if self.recall >= TARGET_RECALL else "falls short of"
        return (
            f"{knob} {self.value} tuned at the last build: recall@{K} {self.recall:.2f} on "
            f"{PROBE_QUERIES} stored scenes ({met} the {TARGET_RECALL} target)"
        )


class TruthBuilder:
    """The exact top K+1 of the probe queries over every (ids, vectors) batch it is shown."""

    def __init__(self, queries: Vectors) -> None:
        self.queries = queries
        self._scores = np.full((len(queries), K + 1), -np.inf, dtype=np.float32)
        self._ids = np.full((len(queries), K + 1), -1, dtype=np.int64)

    def add(self, ids: Ids, vectors: Vectors) -> None:
        if len(ids) == 0 or len(self.queries) == 0:
            return
        new = self.queries @ vectors.T
        if len(ids) > K + 1:  # the batch's own best first: the merge stays small
            best = np.argpartition(-new, K, axis=1)[:, : K + 1]
            new, new_ids = np.take_along_axis(new, best, axis=1), ids[best]
        else:
            new_ids = np.broadcast_to(ids, new.shape)
        scores = np.concatenate([self._scores, new], axis=1)
        every = np.concatenate([self._ids, new_ids], axis=1)
        top = np.argpartition(-scores, K, axis=1)[:, : K + 1]
        self._scores = np.take_along_axis(scores, top, axis=1)
        self._ids = np.take_along_axis(every, top, axis=1)

    def probe(self) -> RecallProbe:
        order = np.argsort(-self._scores, axis=1, kind="stable")
        ids = np.take_along_axis(self._ids, order, axis=1)
        best = np.take_along_axis(self._scores, order[:, :1], axis=1)[:, 0]
        own_score = np.einsum("ij,ij->i", self.queries, self.queries)
        is_own = best >= own_score - 1e-4  # the query is a stored vector: it finds itself first
        own_ids = np.where(is_own, ids[:, 0], -1)
        truth = np.where(is_own[:, None], ids[:, 1:], ids[:, :K])
        return RecallProbe(self.queries, own_ids, truth)


def recall(found: Ids, probe: RecallProbe) -> float:
    """Mean recall@K of `found` (q, >= K+1 ids a query), each query's own scene left out."""
    hits = 0
    for row, own, truth in zip(found, probe.own_ids.tolist(), probe.truth, strict=True):
        got = row[(row >= 0) & (row != own)][:K]
        hits += len(np.intersect1d(got, truth))
    return hits / (K * max(len(found), 1))


def tune(
    search: Callable[[Vectors, int, int], Ids], ladder: Sequence[int], probe: RecallProbe
) -> Tuned:
    """The first value of `ladder` at which `search(queries, k, value)` reaches the target
    recall, or the last one."""
    measured = Tuned(ladder[0], 0.0)
    for value in ladder:
        measured = Tuned(value, recall(search(probe.queries, K + 1, value), probe))
        if measured.recall >= TARGET_RECALL:
            break
    return measured


def ladder(start: int, stop: int) -> list[int]:
    """start, then about 1.5x a step, to stop."""
    steps = [start]
    while steps[-1] < stop:
        steps.append(min(stop, max(steps[-1] + 1, round(steps[-1] * 1.5))))
    return steps
