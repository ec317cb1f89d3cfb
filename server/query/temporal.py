"""TemporalSearch: "A then B within N seconds", "A without B", over stored frame timelines.

1. Check the request, then embed each step once (texts, images, stored scene vectors), as
   Search does.
2. Shortlist candidate videos with the index: the `shortlist_scenes` scenes nearest to each
   positive step's vector, and keep the videos that have such a scene for *every* positive
   step (a span needs all of them). Named videos, or `exhaustive`, skip the shortlist.
3. Stream the candidates one video at a time from SQLite (memory bounded by the largest
   video), score its frames against the steps, find spans (`temporal_spans.py` states the
   rule and the score), and keep the best `top_k` across videos in a heap.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scenesearch.contract import DEFAULT_TOP_K
from scenesearch.server.domain import Video
from scenesearch.server.errors import InvalidArgument, NotFound
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.query.analytics import MAX_SMOOTH
from scenesearch.server.query.composite import MAX_TERMS
from scenesearch.server.query.frame_maths import similarity
from scenesearch.server.query.scene_directory import VIDEO
from scenesearch.server.query.search import SearchEngine, SingleQuery
from scenesearch.server.query.temporal_spans import SpanMatch, find_spans
from scenesearch.server.storage.store import Store

MAX_STEPS = MAX_TERMS
DEFAULT_SHORTLIST_SCENES = 300
MAX_SHORTLIST_SCENES = 10_000


@dataclass(frozen=True, slots=True)
class Step:
    query: SingleQuery
    threshold: float
    negated: bool = False


@dataclass(frozen=True, slots=True)
class TemporalOptions:
    max_gap_s: float = math.inf
    smooth: int = 0
    top_k: int = DEFAULT_TOP_K
    video_ids: tuple[int, ...] = ()
    shortlist_scenes: int = DEFAULT_SHORTLIST_SCENES
    exhaustive: bool = False


@dataclass(frozen=True, slots=True)
class TemporalHit:
    video: Video
    span: SpanMatch


@dataclass(frozen=True, slots=True)
class TemporalResult:
    hits: tuple[TemporalHit, ...]
    videos_scanned: int
    videos_shortlisted: bool  # False: every requested (or every) video was read
    query_truncated: bool = False


def check_steps(steps: Sequence[Step], options: TemporalOptions) -> None:
    """InvalidArgument, with what to change, for requests that cannot be answered."""
    if not steps:
        raise InvalidArgument("the temporal query has no steps; give at least one")
    if len(steps) > MAX_STEPS:
        raise InvalidArgument(
            f"the temporal query has {len(steps)} steps; at most {MAX_STEPS} are allowed"
        )
    if all(s.negated for s in steps):
        raise InvalidArgument(
            "the temporal query has only negated steps; add a step that must occur"
        )
    for n, step in enumerate(steps, start=1):
        if not math.isfinite(step.threshold):
            raise InvalidArgument(f"step {n}'s threshold must be a finite number")
    if math.isnan(options.max_gap_s) or options.max_gap_s < 0:
        raise InvalidArgument(
            f"the maximum gap must be 0 s or more (leave it unset for no limit), "
            f"got {options.max_gap_s}"
        )
    if not 0 <= options.smooth <= MAX_SMOOTH:
        raise InvalidArgument(f"smooth must be between 0 and {MAX_SMOOTH} samples")
    if not 1 <= options.shortlist_scenes <= MAX_SHORTLIST_SCENES:
        raise InvalidArgument(
            f"shortlist_scenes must be between 1 and {MAX_SHORTLIST_SCENES}, "
            f"got {options.shortlist_scenes}"
        )


class TemporalEngine:
    def __init__(self, store: Store, index: LiveIndex, search: SearchEngine) -> None:
        self._store, self._index, self._search = store, index, search

    def search(self, steps: Sequence[Step], options: TemporalOptions) -> TemporalResult:
        check_steps(steps, options)
        top_k = self._search.validate_top_k(options.top_k)
        embedded = [self._search.embed(s.query) for s in steps]
        vectors = np.concatenate([e.vector for e in embedded])
        thresholds = np.asarray([s.threshold for s in steps], dtype=np.float64)
        negated = np.asarray([s.negated for s in steps], dtype=bool)
        videos, shortlisted = self._candidates(vectors[~negated], options)
        heap: list[tuple[float, int, float, int, TemporalHit]] = []
        scanned = 0
        for video_id in videos:
            try:
                video = self._store.get_video(video_id)
            except NotFound:  # deleted since the shortlist was read
                continue
            if video.status != "ready":
                continue
            scanned += 1
            frames = self._store.frames_of_video(video_id)
            sims = similarity(frames.vectors, vectors)
            spans = find_spans(
                sims,
                frames.times_s,
                video.duration_s,
                thresholds,
                negated,
                options.max_gap_s,
                options.smooth,
                top_k,
            )
            for span in spans:
                # Worst first in the heap: lower score, then later video and start.
                key = (span.score, -video_id, -span.start_s)
                item = (span.score, -video_id, -span.start_s, len(heap), TemporalHit(video, span))
                if len(heap) < top_k:
                    heapq.heappush(heap, item)
                elif key > heap[0][:3]:
                    heapq.heapreplace(heap, item)
        hits = [item[-1] for item in sorted(heap, key=lambda i: i[:3], reverse=True)]
        return TemporalResult(tuple(hits), scanned, shortlisted, any(e.truncated for e in embedded))

    def _candidates(self, positive: np.ndarray, options: TemporalOptions) -> tuple[list[int], bool]:
        """Video ids to read, in id order, and whether the index shortlisted them."""
        if options.video_ids:
            return sorted(set(options.video_ids)), False
        ready = self._store.ready_video_ids()
        if options.exhaustive or self._index.count() <= options.shortlist_scenes:
            return ready, False
        _, ids = self._index.search(positive, options.shortlist_scenes)
        keep: set[int] | None = None
        table = self._search.directory.table()
        for row in ids:
            _, rows = table.positions(row[row >= 0])
            found = set(table.ints[rows, VIDEO].tolist())
            keep = found if keep is None else keep & found
        return sorted(keep or ()), True
