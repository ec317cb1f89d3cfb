"""Query engine: embed the query, search the index, keep committed scenes, find the moment.

Over-fetches when filters or exclusions may drop candidates, growing the fetch until top_k
hits survive or the index is exhausted. The best moment of a hit is its sampled frame most
similar to the query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scenesearch.contract import DEFAULT_TOP_K, MAX_TOP_K
from scenesearch.server.domain import SceneHit, Vectors
from scenesearch.server.errors import InvalidArgument
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.query.text_batcher import TextBatcher
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

    def validate_top_k(self, top_k: int) -> int:
        if top_k == 0:
            return DEFAULT_TOP_K
        if top_k < 0 or top_k > self.max_top_k:
            raise InvalidArgument(f"top_k must be between 1 and {self.max_top_k}, got {top_k}")
        return top_k

    def embed(self, query: Query) -> tuple[Vectors, set[int], set[int], bool]:
        """Query vector, scene ids and video ids to exclude, and whether text was truncated."""
        if isinstance(query, TextQuery):
            if not query.text.strip():
                raise InvalidArgument("the text query is empty; say what to look for")
            vector, truncated = self._texts.encode(query.text)
            return vector, set(), set(), truncated
        if isinstance(query, ImageQuery):
            return self._images(query.data), set(), set(), False
        scene, vector = self._store.scene_vector(query.scene_id)
        videos = {scene.video_id} if query.exclude_same_video else set()
        return vector.reshape(1, -1), {scene.id}, videos, False

    def search(self, query: Query, options: SearchOptions) -> SearchResult:
        top_k = self.validate_top_k(options.top_k)
        vector, skip_scenes, skip_videos, truncated = self.embed(query)
        wanted = set(options.video_ids)
        hits = self._ranked(vector, top_k, wanted, skip_scenes, skip_videos, options.min_score)
        return SearchResult(tuple(hits), self._index.kind, truncated)

    def _ranked(
        self,
        vector: Vectors,
        top_k: int,
        wanted: set[int],
        skip_scenes: set[int],
        skip_videos: set[int],
        min_score: float,
    ) -> list[SceneHit]:
        total = self._index.count()
        filtered = bool(wanted or skip_videos)
        fetch = top_k + len(skip_scenes) + (top_k * 3 if filtered else 0)
        while True:
            scores, ids = self._index.search(vector, min(fetch, max(total, 1)))
            candidates = [
                (int(i), float(s))
                for i, s in zip(ids[0], scores[0], strict=True)
                if i >= 0 and s >= min_score and int(i) not in skip_scenes
            ]
            scenes = self._store.scenes_by_ids([i for i, _ in candidates])
            kept = [
                (sid, score)
                for sid, score in candidates
                if sid in scenes
                and (not wanted or scenes[sid][0].video_id in wanted)
                and scenes[sid][0].video_id not in skip_videos
            ]
            if len(kept) >= top_k or fetch >= total:
                break
            fetch *= 4
        kept = kept[:top_k]
        moments = self._best_moments(vector[0], [sid for sid, _ in kept])
        return [
            SceneHit(
                video_id=scenes[sid][0].video_id,
                video_path=scenes[sid][1],
                scene_id=sid,
                scene_index=scenes[sid][0].index,
                start_s=scenes[sid][0].start_s,
                end_s=scenes[sid][0].end_s,
                best_time_s=moments.get(sid, scenes[sid][0].start_s),
                score=score,
                index_kind=self._index.kind,
            )
            for sid, score in kept
        ]

    def _best_moments(self, vector: Vectors, scene_ids: Sequence[int]) -> dict[int, float]:
        if not scene_ids:
            return {}
        frames = self._store.frames_of_scenes(scene_ids)
        if len(frames.times_s) == 0:
            return {}
        sims = frames.vectors @ vector
        best: dict[int, tuple[float, float]] = {}
        for sid, t, s in zip(
            frames.scene_ids.tolist(), frames.times_s.tolist(), sims.tolist(), strict=True
        ):
            if sid not in best or s > best[sid][1]:
                best[sid] = (t, s)
        return {sid: t for sid, (t, _) in best.items()}
