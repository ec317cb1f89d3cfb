"""Query engine: embed the query, search by a per-query plan, keep committed scenes, find the
moment.

The plan (exact scoring of a small selection, or the index with an IDSelector) is chosen in
`plan.py`, whose docstring states the rule. Single queries never over-fetch for filters or
`min_score`. Composite queries with negative terms, and `per_video_limit`, re-rank a wider
candidate set (`composite.py` states the scoring). The best moment of a hit is its sampled
frame most similar to the query vector, found for all hits in one vectorised pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from scenesearch.contract import DEFAULT_TOP_K, MAX_TOP_K
from scenesearch.server.domain import SceneHit, Vectors
from scenesearch.server.errors import InvalidArgument
from scenesearch.server.index.base import IdFilter
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.query.composite import (
    CANDIDATES_PER_HIT,
    MIN_CANDIDATES,
    WeightedTerms,
    blend,
    check_weights,
    cosine_threshold,
    rescore,
)
from scenesearch.server.query.hits import HitTable, best_moment_times, no_hits
from scenesearch.server.query.plan import EXACT_LIMIT, Plan, choose_plan, post_filter_plan
from scenesearch.server.query.ranking import best_first, rank_in_video
from scenesearch.server.query.scene_directory import (
    END_S,
    INDEX,
    START_S,
    VIDEO,
    SceneDirectory,
    SceneTable,
)
from scenesearch.server.query.text_batcher import TextBatcher
from scenesearch.server.storage.store import Store

# Image bytes -> (1, dim) normalised vector; raises InvalidArgument for undecodable bytes.
ImageBytesEncoder = Callable[[bytes], Vectors]
Calibrate = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]
# Concept name -> its (1, dim) unit query vector (query/concepts.py); NotFound when unknown.
ConceptResolver = Callable[[str], Vectors]


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


@dataclass(frozen=True, slots=True)
class ConceptQuery:
    name: str


SingleQuery = TextQuery | ImageQuery | SceneQuery | ConceptQuery


@dataclass(frozen=True, slots=True)
class Term:
    query: SingleQuery
    weight: float = 1.0  # negative: push results away from this term


@dataclass(frozen=True, slots=True)
class CompositeQuery:
    terms: tuple[Term, ...]


Query = TextQuery | ImageQuery | SceneQuery | ConceptQuery | CompositeQuery


@dataclass(frozen=True, slots=True)
class SearchOptions:
    top_k: int = DEFAULT_TOP_K
    video_ids: tuple[int, ...] = ()
    min_score: float = -np.inf
    min_score_calibrated: bool = False  # min_score applies to the calibrated score
    per_video_limit: int = 0  # 0: no limit
    time_from_s: float | None = None
    time_to_s: float | None = None
    sort_by_time: bool = False


@dataclass(frozen=True, slots=True)
class SearchResult:
    table: HitTable  # the hits, best first (or by time), as columns
    index_kind: str
    query_truncated: bool = False

    @property
    def hits(self) -> tuple[SceneHit, ...]:
        return self.table.objects(self.index_kind)


@dataclass(frozen=True, slots=True)
class Kept:
    """Committed candidates, best first: their rows in one scene-directory snapshot."""

    table: SceneTable
    rows: np.ndarray
    ids: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class Embedded:
    vector: Vectors  # (1, dim)
    own_scenes: tuple[int, ...] = ()  # scene queries never return their own scene
    own_videos: tuple[int, ...] = ()  # ...nor, with exclude_same_video, their video
    truncated: bool = False
    terms: WeightedTerms | None = None  # composite queries only


def _identity(scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return scores


class SearchEngine:
    def __init__(
        self,
        store: Store,
        index: LiveIndex,
        texts: TextBatcher,
        images: ImageBytesEncoder,
        max_top_k: int = MAX_TOP_K,
        calibrate: Calibrate = _identity,
        concepts: ConceptResolver | None = None,
    ) -> None:
        self._store, self._index = store, index
        self._concepts = concepts
        self._texts, self._images = texts, images
        self._calibrate = calibrate
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
        if isinstance(query, CompositeQuery):
            return self._embed_terms(query.terms)
        if isinstance(query, TextQuery):
            if not query.text.strip():
                raise InvalidArgument("the text query is empty; say what to look for")
            vector, truncated = self._texts.encode(query.text)
            return Embedded(vector, truncated=truncated)
        if isinstance(query, ImageQuery):
            return Embedded(self._images(query.data))
        if isinstance(query, ConceptQuery):
            if self._concepts is None:
                raise InvalidArgument("this server does not keep concepts")
            return Embedded(self._concepts(query.name))
        scene, vector = self._store.scene_vector(query.scene_id)
        own_videos = (scene.video_id,) if query.exclude_same_video else ()
        return Embedded(vector.reshape(1, -1), (scene.id,), own_videos)

    def _embed_terms(self, terms: Sequence[Term]) -> Embedded:
        weights = check_weights([t.weight for t in terms])
        parts = [self.embed(t.query) for t in terms]
        weighted = WeightedTerms(np.concatenate([p.vector for p in parts]), weights)
        return Embedded(
            blend(weighted),
            tuple(s for p in parts for s in p.own_scenes),
            tuple(v for p in parts for v in p.own_videos),
            any(p.truncated for p in parts),
            weighted,
        )

    def search(self, query: Query, options: SearchOptions) -> SearchResult:
        top_k = self.validate_top_k(options.top_k)
        if options.per_video_limit < 0:
            raise InvalidArgument("per_video_limit must not be negative (0 means no limit)")
        embedded = self.embed(query)
        plan = self.plan(embedded, options)
        min_score = options.min_score
        if options.min_score_calibrated:
            weights = embedded.terms.weights if embedded.terms else np.ones(1, np.float32)
            span = 2.0 + float(np.abs(weights[weights < 0]).sum())
            min_score = cosine_threshold(self._calibrate, min_score, span)
        terms = embedded.terms
        if (terms is not None and terms.has_negatives) or options.per_video_limit:
            kept = self._reranked(embedded, top_k, plan, min_score, options.per_video_limit)
        else:
            kept = self._ranked(embedded.vector, top_k, plan, min_score)
        hits = self._hits(embedded, kept)
        if options.sort_by_time:
            hits = hits.by_time()
        return SearchResult(hits, self._index.kind, embedded.truncated)

    def plan(self, embedded: Embedded, options: SearchOptions) -> Plan:
        deny: list[int] = list(embedded.own_scenes)
        if embedded.own_videos:
            deny.extend(self.directory.scenes_of(embedded.own_videos).tolist())
        denied = np.unique(np.asarray(deny, dtype=np.int64))
        total = self._index.count()
        timed = options.time_from_s is not None or options.time_to_s is not None
        if options.video_ids and not timed:  # rule 3 may need no id list: decide on the count
            selected = self.directory.count_of(options.video_ids)
            kind, limits = self._index.kind, self.exact_limits
            post = post_filter_plan(kind, selected, denied, total, limits)
            if post is not None:
                return replace(post, keep_videos=np.unique(np.asarray(options.video_ids)))
        allow = self.directory.scenes_of(options.video_ids) if options.video_ids else None
        if timed:
            start, end = options.time_from_s or 0.0, options.time_to_s
            if end is not None and end < start:
                raise InvalidArgument(f"the time range {start}-{end}s ends before it starts")
            in_time = self.directory.overlapping(start, end, options.video_ids)
            allow = in_time if allow is None else np.intersect1d(allow, in_time)
        return choose_plan(self._index.kind, allow, denied, total, self.exact_limits)

    def _candidates(self, vector: Vectors, fetch: int, plan: Plan) -> tuple[np.ndarray, ...]:
        """(ids, scores) best first: the whole selection when it is scored exactly."""
        selection = plan.id_filter
        if plan.exact and selection is not None and selection.allow is not None:
            return best_first(*self._scored_exactly(selection.allow, vector[0]), fetch)
        if plan.post_filter:
            wide = max(fetch, min(math.ceil(fetch * plan.widen), self._index.count()))
            ids, scores = self._searched(vector, wide, selection)  # the exclusions only
            kept = self._kept(plan, ids)
            if int(kept.sum()) >= fetch or len(ids) < wide:  # enough, or nothing more to find
                return ids[kept], scores[kept]
            selection = IdFilter(self._allowed(plan))  # rule 4 of plan.py: the index filters
        return self._searched(vector, fetch, selection)

    def _scored_exactly(self, ids: np.ndarray, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(id, score) of the sorted `ids`, from the store's read copy of the scene vectors
        (scored in place) or else the index's stored vectors."""
        scored = self._store.vectors.scene_scores(ids, vector)
        if scored is not None:
            return scored
        found, vectors = self._index.stored_vectors(ids)
        return found, vectors @ vector

    def _kept(self, plan: Plan, ids: np.ndarray) -> npt.NDArray[np.bool_]:
        """Which of a post-filtered search's candidates its filter selects."""
        if plan.keep_videos is not None:
            return self.directory.of_videos(ids, plan.keep_videos)
        return IdFilter(plan.keep_ids).keep(ids)

    def _allowed(self, plan: Plan) -> np.ndarray:
        """A post-filter plan's selection as ids (built only when the index must filter)."""
        if plan.keep_ids is not None:
            return plan.keep_ids
        allow = self.directory.scenes_of(
            plan.keep_videos.tolist() if plan.keep_videos is not None else []
        )
        deny = plan.id_filter.deny if plan.id_filter is not None else np.zeros(0, np.int64)
        return allow[~np.isin(allow, deny)]

    def _searched(
        self, vector: Vectors, fetch: int, id_filter: IdFilter | None
    ) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self._index.search(vector, fetch, id_filter)
        valid = ids[0] >= 0
        return ids[0][valid], scores[0][valid]

    def _ranked(self, vector: Vectors, top_k: int, plan: Plan, min_score: float) -> Kept | None:
        if plan.nothing:
            return None
        fetch = top_k
        while True:
            ids, scores = self._candidates(vector, fetch, plan)
            above = scores >= min_score
            kept = self._committed(ids[above], scores[above], top_k)
            # Repeat only when dropped ghosts left fewer than top_k and more may exist.
            exhausted = int(above.sum()) < fetch or fetch >= self._index.count()
            if len(kept) >= top_k or exhausted:
                return kept
            fetch *= 4

    def _reranked(
        self, embedded: Embedded, top_k: int, plan: Plan, min_score: float, per_video: int
    ) -> Kept | None:
        if plan.nothing:
            return None
        fetch = max(CANDIDATES_PER_HIT * top_k, MIN_CANDIDATES)
        while True:
            ids, scores = self._candidates(embedded.vector, fetch, plan)
            if embedded.terms is not None and embedded.terms.has_negatives and len(ids):
                scores = rescore(scores, self._term_cosines(ids, embedded.terms), embedded.terms)
                order = np.argsort(-scores, kind="stable")
                ids, scores = ids[order], scores[order]
            above = scores >= min_score
            kept = self._committed(ids[above], scores[above], top_k, per_video)
            exhausted = len(ids) < fetch or fetch >= self._index.count()
            if len(kept) >= top_k or exhausted:
                return kept
            fetch *= 4

    def _vectors_of(self, ids: np.ndarray) -> Vectors:
        """Stored vectors in the order of `ids`; a scene deleted meanwhile gets zeros (it is
        dropped when hits are checked against SQLite)."""
        found, vectors = self._index.stored_vectors(ids)
        if len(found) == len(ids):
            return vectors
        out = np.zeros((len(ids), self._store.dim), dtype=np.float32)
        rows = {int(i): r for r, i in enumerate(found.tolist())}
        for row, sid in enumerate(ids.tolist()):
            if sid in rows:
                out[row] = vectors[rows[sid]]
        return out

    def _term_cosines(self, ids: np.ndarray, terms: WeightedTerms) -> npt.NDArray[np.float32]:
        """cos(term, scene) for each id and term: (ids, terms)."""
        return (self._vectors_of(ids) @ terms.vectors.T).astype(np.float32)

    def _committed(
        self, ids: np.ndarray, scores: np.ndarray, top_k: int, per_video: int = 0
    ) -> Kept:
        """The first top_k (id, score) whose scene is committed (in the scene directory), in
        order, with at most `per_video` of each video when it is set."""
        table = self.directory.table()
        found, rows = table.positions(ids)
        ids, scores = ids[found], scores[found]
        if per_video:
            keep = rank_in_video(table.ints[rows, VIDEO]) < per_video
            rows, ids, scores = rows[keep], ids[keep], scores[keep]
        return Kept(table, rows[:top_k], ids[:top_k], scores[:top_k])

    def _hits(self, embedded: Embedded, kept: Kept | None) -> HitTable:
        terms = embedded.terms
        if kept is None or not len(kept):
            return no_hits(1 if terms is None else len(terms.weights))
        frames = self._store.frames_of_scenes(kept.ids.tolist(), ordered=False)
        moments = best_moment_times(frames, embedded.vector[0], kept.ids)
        ints, floats = kept.table.ints[kept.rows], kept.table.floats[kept.rows]
        scores = kept.scores.astype(np.float32, copy=False)
        paths = kept.table.paths
        return HitTable(
            scene_ids=kept.ids,
            video_ids=ints[:, VIDEO],
            scene_indexes=ints[:, INDEX],
            start_s=floats[:, START_S],
            end_s=floats[:, END_S],
            best_time_s=np.where(np.isnan(moments), floats[:, START_S], moments),
            scores=scores,
            calibrated=self._calibrate(scores),
            term_scores=scores[:, None] if terms is None else self._term_cosines(kept.ids, terms),
            video_paths=[paths[v] for v in ints[:, VIDEO].tolist()],
        )
