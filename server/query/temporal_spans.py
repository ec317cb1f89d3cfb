"""Temporal spans over one video's smoothed step curves. Pure numpy, no I/O.

The rule, exact (indices are sampled frames in time order):
- a step **occurs** on the samples where its smoothed curve is at or above its threshold;
  an **occurrence** is a run of such samples, [first, last], with its peak (the first sample
  of the highest value) and that peak value;
- samples where any negated step occurs are **barriers**: occurrences are found between
  barriers only (a run that touches a barrier is cut there), so no span ever contains a
  sample where a negated step occurs, wherever that step sits in the request;
- a **chain** takes one occurrence per positive step, in request order, where each one starts
  at a strictly later sample than the one before, and begins at most `max_gap_s` after the
  previous one ends: gap = start(next) - end(previous), clamped at 0 when they overlap;
- a **span** runs from the start of its first occurrence to the latest end among them; a
  sample stands for the time up to the next sample (the last one to the end of the video),
  exactly as Timeline's segments;
- its **score** is the mean, over the positive steps, of their occurrences' peak values;
- from each occurrence of the first step, the best-scoring chain is kept; among kept spans
  that overlap, only the best one (earliest on a tie) is returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scenesearch.server.query.frame_maths import FloatArray, moving_average, runs, sample_spans

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Occurrence:
    first: int  # sample indices, inclusive
    last: int
    peak: int
    score: float  # the smoothed similarity at the peak


@dataclass(frozen=True, slots=True)
class StepMatch:
    step: int  # index of the step in the request (negated steps are never matched)
    start_s: float
    end_s: float
    peak_s: float  # the time the step matched
    score: float


@dataclass(frozen=True, slots=True)
class SpanMatch:
    start_s: float
    end_s: float
    score: float  # mean of the matches' scores
    matches: tuple[StepMatch, ...]


def smoothed(sims: FloatArray, smooth: int) -> FloatArray:
    """Timeline's moving average applied to each column (frames, steps)."""
    if sims.shape[1] == 0:
        return sims
    return np.stack([moving_average(sims[:, c], smooth) for c in range(sims.shape[1])], axis=1)


def occurrences(curve: FloatArray, threshold: float, allowed: BoolArray) -> list[Occurrence]:
    """Runs of samples at or above `threshold`, inside the allowed samples."""
    out = []
    for start, stop in runs((curve >= threshold) & allowed):
        peak = start + int(np.argmax(curve[start:stop]))
        out.append(Occurrence(start, stop - 1, peak, float(curve[peak])))
    return out


def _chains(
    steps: list[list[Occurrence]],
    starts_s: FloatArray,
    ends_s: FloatArray,
    block: npt.NDArray[np.int64],
    max_gap_s: float,
) -> list[tuple[float, list[Occurrence]]]:
    """For each occurrence of the first step, its best chain (total score, occurrences).
    A chain stays inside one block (the samples between two barriers)."""
    # best[j]: the best total score of a chain from occurrence j of step k to the last step.
    best = np.asarray([o.score for o in steps[-1]], dtype=np.float64)
    links: list[npt.NDArray[np.int64]] = []
    for k in range(len(steps) - 2, -1, -1):
        here, after = steps[k], steps[k + 1]
        if not here or not after or not np.isfinite(best).any():
            return []
        first_here = np.asarray([o.first for o in here])
        first_after = np.asarray([o.first for o in after])
        gap = starts_s[first_after][None, :] - ends_s[[o.last for o in here]][:, None]
        valid = (
            (first_after[None, :] > first_here[:, None])
            & (np.maximum(gap, 0.0) <= max_gap_s)
            & (block[first_after][None, :] == block[first_here][:, None])
        )
        candidates = np.where(valid, best[None, :], -np.inf)
        choice = np.argmax(candidates, axis=1)  # the first (earliest) on a tie
        reach = candidates[np.arange(len(here)), choice]
        best = np.asarray([o.score for o in here]) + reach
        links.insert(0, choice)
    out = []
    for j, total in enumerate(best.tolist()):
        if not np.isfinite(total):
            continue
        chain, at = [steps[0][j]], j
        for k, link in enumerate(links):
            at = int(link[at])
            chain.append(steps[k + 1][at])
        out.append((total, chain))
    return out


def find_spans(
    sims: FloatArray,
    times_s: FloatArray,
    duration_s: float,
    thresholds: FloatArray,
    negated: BoolArray,
    max_gap_s: float = np.inf,
    smooth: int = 0,
    limit: int = 0,
) -> list[SpanMatch]:
    """Spans of one video, best first. `sims` is (frames, steps) cosine similarity, steps in
    request order; `limit` > 0 keeps only that many."""
    if len(times_s) == 0:
        return []
    curves = smoothed(np.asarray(sims, dtype=np.float64), smooth)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    negated = np.asarray(negated, dtype=bool)
    barrier: BoolArray = np.asarray((curves[:, negated] >= thresholds[negated]).any(axis=1))
    allowed: BoolArray = np.logical_not(barrier)
    starts_s = np.asarray(times_s, dtype=np.float64)
    ends_s = starts_s + sample_spans(starts_s, duration_s)
    positive = np.flatnonzero(~negated).tolist()
    steps = [occurrences(curves[:, k], float(thresholds[k]), allowed) for k in positive]
    if any(not s for s in steps):
        return []
    # Barriers cut runs, so an occurrence never crosses one; chains must not jump one either.
    block = np.cumsum(barrier, dtype=np.int64)
    spans = []
    for total, chain in _chains(steps, starts_s, ends_s, block, max_gap_s):
        first, last = chain[0].first, max(o.last for o in chain)
        spans.append(
            SpanMatch(
                float(starts_s[first]),
                float(ends_s[last]),
                total / len(chain),
                tuple(
                    StepMatch(
                        step,
                        float(starts_s[o.first]),
                        float(ends_s[o.last]),
                        float(starts_s[o.peak]),
                        o.score,
                    )
                    for step, o in zip(positive, chain, strict=True)
                ),
            )
        )
    return suppress_overlaps(spans, limit)


def suppress_overlaps(spans: list[SpanMatch], limit: int = 0) -> list[SpanMatch]:
    """Best first; a span overlapping a better one is dropped (earlier wins a tie)."""
    ordered = sorted(spans, key=lambda s: (-s.score, s.start_s))
    kept: list[SpanMatch] = []
    for span in ordered:
        if all(span.end_s <= k.start_s or span.start_s >= k.end_s for k in kept):
            kept.append(span)
            if limit and len(kept) >= limit:
                break
    return kept
