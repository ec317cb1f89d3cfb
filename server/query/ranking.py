"""Orderings of candidate arrays: the best `count` of scored ids, and ranks within a video."""

from __future__ import annotations

import numpy as np


def best_first(ids: np.ndarray, scores: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The `count` highest-scoring (id, score) pairs, best first, equal scores by id: what a
    stable sort of id-ordered candidates gives, without sorting all of them (a 1% filter at
    1M scenes scores 10,000 to keep 10; a full sort cost 0.75 ms, this 0.15)."""
    if count < len(scores):
        threshold = np.partition(scores, len(scores) - count)[len(scores) - count]
        above = scores >= threshold  # ties at the threshold stay, so the id order decides
        ids, scores = ids[above], scores[above]
    order = np.lexsort((ids, -scores))[:count]
    return ids[order], scores[order]


def rank_in_video(videos: np.ndarray) -> np.ndarray:
    """For each position, how many earlier positions have the same video."""
    order = np.argsort(videos, kind="stable")
    ordered = videos[order]
    positions = np.arange(len(videos))
    starts = np.maximum.accumulate(np.where(np.r_[True, ordered[1:] != ordered[:-1]], positions, 0))
    rank = np.empty(len(videos), np.int64)
    rank[order] = positions - starts
    return rank
