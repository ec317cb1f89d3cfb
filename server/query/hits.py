"""Search hits as columns, best first, and the best moment of each.

Why columns: a search returns up to 1,000 hits, and an object per hit cost more than the
search. At 100k scenes, HNSW's top_k=1000 spent 8 ms in FAISS and 15 ms making Scene and
SceneHit objects, finding best moments through a three-key sort, and converting them
(cProfile). So the engine fills one array a field straight from the scene directory's
arrays, the API layer writes the protos from those, and `SceneHit` objects are made only when
an in-process caller asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from scenesearch.server.domain import SceneHit, Vectors
from scenesearch.server.storage.schema import FrameMatrix

# video id, video path, scene id, scene index, start, end, best time, score, term scores,
# calibrated score
HitFields = tuple[int, str, int, int, float, float, float, float, list[float], float]


@dataclass(frozen=True, slots=True)
class HitTable:
    """Row i of every column is hit i."""

    scene_ids: np.ndarray  # (n,) int64
    video_ids: np.ndarray  # (n,) int64
    scene_indexes: np.ndarray  # (n,) int64
    start_s: np.ndarray  # (n,) float64
    end_s: np.ndarray  # (n,) float64
    best_time_s: np.ndarray  # (n,) float64
    scores: np.ndarray  # (n,) float32: cosine, or the composite score
    calibrated: np.ndarray  # (n,) float32
    term_scores: np.ndarray  # (n, terms) float32: cosine to each query term, in order
    video_paths: Sequence[str]

    def __len__(self) -> int:
        return len(self.scene_ids)

    def take(self, order: np.ndarray) -> HitTable:
        return HitTable(
            self.scene_ids[order],
            self.video_ids[order],
            self.scene_indexes[order],
            self.start_s[order],
            self.end_s[order],
            self.best_time_s[order],
            self.scores[order],
            self.calibrated[order],
            self.term_scores[order],
            [self.video_paths[i] for i in order.tolist()],
        )

    def by_time(self) -> HitTable:
        """Ordered by video, then start (stable: equal starts keep their rank order)."""
        return self.take(np.lexsort((self.start_s, self.video_ids)))

    def fields(self) -> Iterator[HitFields]:
        """Per hit, its fields as Python values (one conversion a column)."""
        return zip(
            self.video_ids.tolist(),
            self.video_paths,
            self.scene_ids.tolist(),
            self.scene_indexes.tolist(),
            self.start_s.tolist(),
            self.end_s.tolist(),
            self.best_time_s.tolist(),
            self.scores.tolist(),
            self.term_scores.tolist(),
            self.calibrated.tolist(),
            strict=True,
        )

    def objects(self, index_kind: str) -> tuple[SceneHit, ...]:
        return tuple(
            SceneHit(video, path, sid, index, start, end, best, score, index_kind, tuple(t), cal)
            for video, path, sid, index, start, end, best, score, t, cal in self.fields()
        )


def no_hits(terms: int = 1) -> HitTable:
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
    empty_s = np.zeros(0, np.float32)
    return HitTable(
        empty_i, empty_i, empty_i, empty_f, empty_f, empty_f, empty_s, empty_s,
        np.zeros((0, terms), np.float32), [],
    )  # fmt: skip


def best_moment_times(frames: FrameMatrix, vector: Vectors, scene_ids: np.ndarray) -> np.ndarray:
    """For each of `scene_ids` (unique), the time of its frame most similar to `vector`, the
    earliest on a tie; NaN for a scene without frames.

    Frames read from the vector cache come grouped by scene in time order, so no sort is
    needed; other reads are sorted first. Then each scene's peak is one `reduceat`.
    """
    out = np.full(len(scene_ids), np.nan)
    groups, times = frames.scene_ids, frames.times_s
    if len(groups) == 0 or len(scene_ids) == 0:
        return out
    sims = frames.vectors @ vector
    step = np.diff(groups)
    if (step < 0).any() or (np.diff(times)[step == 0] < 0).any():
        order = np.lexsort((times, groups))
        groups, times, sims = groups[order], times[order], sims[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sizes = np.diff(np.r_[starts, len(groups)])
    at_peak = sims >= np.repeat(np.maximum.reduceat(sims, starts), sizes)
    first = np.minimum.reduceat(np.where(at_peak, np.arange(len(sims)), len(sims)), starts)
    sorter = np.argsort(scene_ids, kind="stable")
    where = np.minimum(np.searchsorted(scene_ids, groups[starts], sorter=sorter), len(sorter) - 1)
    known = scene_ids[sorter[where]] == groups[starts]
    out[sorter[where[known]]] = times[first[known]]
    return out
