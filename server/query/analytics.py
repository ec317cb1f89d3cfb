"""Classify and Timeline over stored frame embeddings: only the prompts are embedded.

Videos are answered one at a time from SQLite, so memory is bounded by the largest video,
whatever the size of the library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from scenesearch.server.domain import Vectors, Video
from scenesearch.server.embedder import TextEmbedding
from scenesearch.server.errors import FailedPrecondition, InvalidArgument
from scenesearch.server.query import frame_maths as analytics
from scenesearch.server.storage.store import Store

MAX_PROMPTS = 64
MAX_SMOOTH = 1000
DEFAULT_INTERVAL_S = 5.0
NULL_LABEL = "(none of these)"


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str = ""
    image: bytes = b""
    label: str = ""
    concept: str = ""  # a saved concept's name


@dataclass(frozen=True, slots=True)
class VideoClassification:
    video: Video
    labels: tuple[str, ...]
    result: analytics.Classification


@dataclass(frozen=True, slots=True)
class Curve:
    label: str
    scores: np.ndarray
    segments: tuple[analytics.Span, ...]


@dataclass(frozen=True, slots=True)
class VideoTimeline:
    video: Video
    times_s: np.ndarray
    curves: tuple[Curve, ...]
    scene_starts_s: tuple[float, ...]


class AnalyticsEngine:
    def __init__(
        self,
        store: Store,
        embed_texts: Callable[[Sequence[str]], TextEmbedding],
        embed_image: Callable[[bytes], Vectors],
        concepts: Callable[[str], Vectors] | None = None,
    ) -> None:
        self._store = store
        self._embed_texts = embed_texts
        self._embed_image = embed_image
        self._concepts = concepts  # concept name -> (1, dim) unit vector

    def embed_prompts(
        self, prompts: Sequence[Prompt], null_prompt: str = ""
    ) -> tuple[list[str], Vectors]:
        if not prompts:
            raise InvalidArgument("give at least one prompt (a text or an example image)")
        if len(prompts) > MAX_PROMPTS:
            raise InvalidArgument(
                f"{len(prompts)} prompts is too many; the limit is {MAX_PROMPTS} per request"
            )
        texts = [p.text.strip() for p in prompts]
        vectors: list[Vectors] = []
        text_rows = [i for i, p in enumerate(prompts) if not p.image and not p.concept]
        if any(not texts[i] for i in text_rows):
            raise InvalidArgument("a prompt is empty: give it a text or an image")
        embedded = self._embed_texts(
            [texts[i] for i in text_rows] + ([null_prompt] if null_prompt.strip() else [])
        )
        by_row = dict(zip(text_rows, embedded.vectors, strict=False))
        image_count = 0
        labels = []
        for i, prompt in enumerate(prompts):
            if prompt.concept:
                if self._concepts is None:
                    raise InvalidArgument("this server does not keep concepts")
                vectors.append(self._concepts(prompt.concept)[0])
                labels.append(prompt.label or prompt.concept)
            elif prompt.image:
                image_count += 1
                vectors.append(self._embed_image(prompt.image)[0])
                labels.append(prompt.label or f"image {image_count}")
            else:
                vectors.append(by_row[i])
                labels.append(prompt.label or texts[i])
        if null_prompt.strip():
            vectors.append(embedded.vectors[-1])
            labels.append(NULL_LABEL)
        return analytics.prompt_labels(labels), np.stack(vectors)

    def videos(self, video_ids: Sequence[int], all_videos: bool) -> list[Video]:
        """Check every requested video up front, so errors come before any result."""
        if all_videos:
            ids = self._store.ready_video_ids()
        elif video_ids:
            ids = list(dict.fromkeys(video_ids))
        else:
            raise InvalidArgument("name at least one video id, or ask for all videos")
        videos = [self._store.get_video(i) for i in ids]
        for video in videos:
            if video.status != "ready":
                raise FailedPrecondition(
                    f"video {video.id} ({video.path}) is still being ingested; ask again when "
                    "its ingest has finished"
                )
        return videos

    def classify(
        self,
        video_ids: Sequence[int],
        all_videos: bool,
        prompts: Sequence[Prompt],
        null_prompt: str = "",
        interval_s: float = 0.0,
        min_visible_s: float = 0.0,
    ) -> Iterator[VideoClassification]:
        interval_s = interval_s or DEFAULT_INTERVAL_S
        if interval_s < 0 or min_visible_s < 0:
            raise InvalidArgument("interval and minimum visible time cannot be negative")
        videos = self.videos(video_ids, all_videos)
        labels, vectors = self.embed_prompts(prompts, null_prompt)
        for video in videos:
            frames = self._store.frames_of_video(video.id)
            sims = analytics.similarity(frames.vectors, vectors)
            result = analytics.classify(
                sims, frames.times_s, video.duration_s, interval_s, min_visible_s
            )
            yield VideoClassification(video, tuple(labels), result)

    def timeline(
        self,
        video_ids: Sequence[int],
        all_videos: bool,
        prompts: Sequence[Prompt],
        smooth: int = 0,
        threshold: float | None = None,
    ) -> Iterator[VideoTimeline]:
        if not 0 <= smooth <= MAX_SMOOTH:
            raise InvalidArgument(f"smooth must be between 0 and {MAX_SMOOTH} samples")
        videos = self.videos(video_ids, all_videos)
        labels, vectors = self.embed_prompts(prompts)
        for video in videos:
            frames = self._store.frames_of_video(video.id)
            sims = analytics.similarity(frames.vectors, vectors)
            curves = analytics.timeline(sims, frames.times_s, video.duration_s, smooth, threshold)
            scenes = self._store.scenes_of_video(video.id)
            yield VideoTimeline(
                video,
                frames.times_s,
                tuple(
                    Curve(label, curve, segs)
                    for label, (curve, segs) in zip(labels, curves, strict=True)
                ),
                tuple(s.start_s for s in scenes),
            )
