"""Query engine: embed the query, search by a per-query plan, keep committed scenes, find the
moment.

The plan (exact scoring of a small selection, or the index with an IDSelector) is chosen in
`plan.py`, whose docstring states the rule. No plan over-fetches for filters or `min_score`.
The best moment of a hit is its sampled frame most similar to the query, found for all hits
in one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from scenesearch.contract import DEFAULT_TOP_K, MAX_TOP_K
from scenesearch.server.domain import Scene, SceneHit, Vectors
from scenesearch.server.errors import InvalidArgument
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.query.plan import EXACT_LIMIT, Plan, SceneDirectory, choose_plan
from scenesearch.server.query.text_batcher import TextBatcher
from scenesearch.server.storage.schema import FrameMatrix
from scenesearch.server.storage.store import Store

# Image bytes -> (1, dim) normalised vector; raises InvalidArgument for undecodable bytes.
ImageBytesEncoder = Callable[[bytes], Vectors]


@dataclass(frozen=True, slots=True)
class TextQuery:
    text: str


@dataclass(frozen=True, slots=True)
class ImageQuery:
    data: bytes


@dataclass(frozen=True, slots=True)
class SceneQuery:
    scene_id: int
    exclude_same_video: bool = False


Query = TextQuery | ImageQuery | SceneQuery


@dataclass(frozen=True, slots=True)
class SearchOptions:
    top_k: int = DEFAULT_TOP_K
    video_ids: tuple[int, ...] = ()
    min_score: float = -1.0


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: tuple[SceneHit, ...]
    index_kind: str
    query_truncated: bool = False


@dataclass(frozen=True, slots=True)
class Embedded:
    vector: Vectors  # (1, dim)
    own_scene: int | None = None  # a scene query never returns its own scene
    own_video: int | None = None  # ...nor, with exclude_same_video, its video
    truncated: bool = False


class SearchEngine:
    def __init__(
        self,
        store: Store,
        index: LiveIndex,
        texts: TextBatcher,
        images: ImageBytesEncoder,
        max_top_k: int = MAX_TOP_K,
    ) -> None:
        self._store, self._index = store, index
        self._texts, self._images = texts, images
        self.max_top_k = max_top_k
        self.directory = SceneDirectory(store)
        self.exact_limits = dict(EXACT_LIMIT)  # per kind; see plan.py

    @property
    def kind(self) -> str:
        return self._index.kind

    def validate_top_k(self, top_k: int) -> int:
        if top_k == 0:
            return DEFAULT_TOP_K
        if top_k < 0 or top_k > self.max_top_k:
            raise InvalidArgument(f"top_k must be between 1 and {self.max_top_k}, got {top_k}")
        return top_k

    def embed(self, query: Query) -> Embedded:
        if isinstance(query, TextQuery):
            if not query.text.strip():
                raise InvalidArgument("the text query is empty; say what to look for")
            vector, truncated = self._texts.encode(query.text)
            return Embedded(vector, truncated=truncated)
        if isinstance(query, ImageQuery):
            return Embedded(self._images(query.data))
        scene, vector = self._store.scene_vector(query.scene_id)
        own_video = scene.video_id if query.exclude_same_video else None
        return Embedded(vector.reshape(1, -1), scene.id, own_video)

    def search(self, query: Query, options: SearchOptions) -> SearchResult:
        top_k = self.validate_top_k(options.top_k)
        embedded = self.embed(query)
        plan = self.plan(embedded, options.video_ids)
        hits = self._ranked(embedded.vector, top_k, plan, options.min_score)
        return SearchResult(tuple(hits), self._index.kind, embedded.truncated)

    def plan(self, embedded: Embedded, video_ids: Sequence[int]) -> Plan:
        deny: list[int] = [] if embedded.own_scene is None else [embedded.own_scene]
        if embedded.own_video is not None:
            deny.extend(self.directory.scenes_of([embedded.own_video]).tolist())
        denied = np.unique(np.asarray(deny, dtype=np.int64))
        allow = self.directory.scenes_of(video_ids) if video_ids else None
        return choose_plan(self._index.kind, allow, denied, self.exact_limits)

    def _ranked(self, vector: Vectors, top_k: int, plan: Plan, min_score: float) -> list[SceneHit]:
        if plan.nothing:
            return []
        if plan.exact and plan.id_filter is not None and plan.id_filter.allow is not None:
            ids, vectors = self._index.stored_vectors(plan.id_filter.allow)
            scores = vectors @ vector[0]
            order = np.argsort(-scores, kind="stable")
            ranked_ids, ranked_scores = ids[order], scores[order]
            keep = ranked_scores >= min_score
            kept = self._committed(ranked_ids[keep], ranked_scores[keep], top_k)
        else:
            fetch = top_k
            while True:
                scores, ids = self._index.search(vector, fetch, plan.id_filter)
                valid = ids[0] >= 0
                above = valid & (scores[0] >= min_score)
                kept = self._committed(ids[0][above], scores[0][above], top_k)
                # Repeat only when dropped ghosts left fewer than top_k and more may exist.
                exhausted = int(above.sum()) < len(ids[0]) or fetch >= self._index.count()
                if len(kept) >= top_k or exhausted:
                    break
                fetch *= 4
        return self._hits(vector[0], kept)

    def _committed(
        self, ids: np.ndarray, scores: np.ndarray, top_k: int
    ) -> list[tuple[int, float, Scene, str]]:
        """The first top_k (id, score) whose scene is committed in SQLite, in order."""
        kept: list[tuple[int, float, Scene, str]] = []
        start, step = 0, top_k
        while len(kept) < top_k and start < len(ids):
            chunk_ids = ids[start : start + step].tolist()
            chunk_scores = scores[start : start + step].tolist()
            rows = self._store.scenes_by_ids(chunk_ids)
            for sid, score in zip(chunk_ids, chunk_scores, strict=True):
                row = rows.get(sid)
                if row is not None:
                    kept.append((sid, score, row[0], row[1]))
            start, step = start + step, step * 4
        return kept[:top_k]

    def _hits(self, vector: Vectors, kept: list[tuple[int, float, Scene, str]]) -> list[SceneHit]:
        if not kept:
            return []
        frames = self._store.frames_of_scenes([k[0] for k in kept], ordered=False)
        moments = best_moments(frames, vector)
        kind = self._index.kind
        return [
            SceneHit(
                video_id=scene.video_id,
                video_path=path,
                scene_id=sid,
                scene_index=scene.index,
                start_s=scene.start_s,
                end_s=scene.end_s,
                best_time_s=moments.get(sid, scene.start_s),
                score=score,
                index_kind=kind,
            )
            for sid, score, scene, path in kept
        ]


def best_moments(frames: FrameMatrix, vector: Vectors) -> dict[int, float]:
    """Per scene, the time of its frame most similar to `vector` (the earliest on a tie)."""
    if len(frames.times_s) == 0:
        return {}
    sims = frames.vectors @ vector
    order = np.lexsort((frames.times_s, -sims, frames.scene_ids))
    scene_ids = frames.scene_ids[order]
    first = np.flatnonzero(np.r_[True, scene_ids[1:] != scene_ids[:-1]])
    return dict(zip(scene_ids[first].tolist(), frames.times_s[order][first].tolist(), strict=True))
