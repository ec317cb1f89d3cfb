"""Classification and similarity timelines over stored frame embeddings. Pure numpy.

A sampled frame stands for the time from its timestamp to the next sample (the last one to the
end of the video), so durations stay right for any sampling interval and for videos whose
length is not a multiple of it, and irregular samples (scene starts) weigh what they cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scenesearch.server.domain import Vectors

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Span:
    start_s: float
    end_s: float
    peak_s: float = 0.0
    peak_score: float = 0.0


@dataclass(frozen=True, slots=True)
class IntervalLabel:
    start_s: float
    end_s: float
    label: int  # index into the labels
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LabelSummary:
    coverage_pct: float
    contains: bool
    first_seen_s: float  # -1 when never seen
    visible_s: float
    segments: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Classification:
    intervals: tuple[IntervalLabel, ...]
    summaries: tuple[LabelSummary, ...]  # one per label


def sample_spans(times_s: FloatArray, duration_s: float) -> FloatArray:
    """Seconds each sample stands for: up to the next sample, the last to the end."""
    if len(times_s) == 0:
        return np.zeros(0)
    ends = np.append(times_s[1:], max(duration_s, float(times_s[-1])))
    return np.maximum(ends - times_s, 0.0)


def similarity(frames: Vectors, prompts: Vectors) -> FloatArray:
    """Cosine similarity (frames, prompts); both are L2-normalised."""
    product = np.asarray(frames, dtype=np.float32) @ np.asarray(prompts, dtype=np.float32).T
    return product.astype(np.float64)


def frame_labels(sims: FloatArray) -> IntArray:
    """The best-matching prompt of each frame (the null class, if any, is just a column)."""
    return np.argmax(sims, axis=1).astype(np.int64)


def runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, stop) index ranges where mask is True."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def segments(
    mask: npt.NDArray[np.bool_],
    times_s: FloatArray,
    spans: FloatArray,
    scores: FloatArray | None = None,
) -> tuple[Span, ...]:
    out = []
    for start, stop in runs(mask):
        end_s = float(times_s[stop - 1] + spans[stop - 1])
        if scores is None:
            out.append(Span(float(times_s[start]), end_s))
        else:
            peak = start + int(np.argmax(scores[start:stop]))
            out.append(
                Span(float(times_s[start]), end_s, float(times_s[peak]), float(scores[peak]))
            )
    return tuple(out)


def intervals(
    labels: IntArray, times_s: FloatArray, duration_s: float, interval_s: float, label_count: int
) -> tuple[IntervalLabel, ...]:
    """Majority label per interval; the last interval may be partial.

    Ties go to the label seen first in the interval. An interval with no sample of its own
    (sampling sparser than the interval) takes the label of the sample covering it.
    """
    bins = max(1, int(np.ceil(duration_s / interval_s - 1e-9)))
    which = np.clip(np.floor(times_s / interval_s + 1e-9).astype(np.int64), 0, bins - 1)
    counts = np.zeros((bins, label_count), dtype=np.int64)
    np.add.at(counts, (which, labels), 1)
    first = np.full((bins, label_count), np.iinfo(np.int64).max)
    np.minimum.at(first, (which, labels), np.arange(len(labels)))
    tied_first = np.where(
        counts == counts.max(axis=1, keepdims=True), first, np.iinfo(np.int64).max
    )
    winners = np.argmin(tied_first, axis=1)
    starts = np.arange(bins) * interval_s
    empty = counts.sum(axis=1) == 0
    if empty.any():
        covering = np.searchsorted(times_s, starts[empty] + 1e-9, side="right") - 1
        winners[empty] = labels[np.maximum(covering, 0)]
    return tuple(
        IntervalLabel(
            float(start),
            float(min(start + interval_s, duration_s)),
            int(label),
            tuple(int(c) for c in row),
        )
        for start, label, row in zip(starts, winners, counts, strict=True)
    )


def classify(
    sims: FloatArray,
    times_s: FloatArray,
    duration_s: float,
    interval_s: float,
    min_visible_s: float = 0.0,
) -> Classification:
    """Label frames by their best prompt and summarise each label over the video.

    `contains` is true when the label's longest continuous segment lasts at least
    `min_visible_s` (any sample at all when 0).
    """
    if interval_s <= 0:
        raise ValueError("interval must be positive")
    label_count = sims.shape[1]
    labels = frame_labels(sims)
    spans = sample_spans(times_s, duration_s)
    summaries = []
    for label in range(label_count):
        mask = labels == label
        segs = segments(mask, times_s, spans)
        visible = float(spans[mask].sum())
        longest = max((s.end_s - s.start_s for s in segs), default=0.0)
        summaries.append(
            LabelSummary(
                coverage_pct=100.0 * visible / duration_s if duration_s > 0 else 0.0,
                contains=bool(segs) and longest >= min_visible_s - 1e-9,
                first_seen_s=float(times_s[mask][0]) if mask.any() else -1.0,
                visible_s=visible,
                segments=segs,
            )
        )
    return Classification(
        intervals(labels, times_s, duration_s, interval_s, label_count), tuple(summaries)
    )


def moving_average(values: FloatArray, window: int) -> FloatArray:
    """Centred moving average; near the ends the window shrinks rather than padding."""
    if window <= 1 or len(values) == 0:
        return np.asarray(values, dtype=np.float64)
    n = len(values)
    sums = np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))
    index = np.arange(n)
    low = np.maximum(index - (window - 1) // 2, 0)
    high = np.minimum(index + window // 2 + 1, n)
    return np.asarray((sums[high] - sums[low]) / (high - low))


def above_threshold(
    curve: FloatArray, times_s: FloatArray, duration_s: float, threshold: float
) -> tuple[Span, ...]:
    """Segments where the curve is at or above `threshold`, with their peak."""
    return segments(curve >= threshold, times_s, sample_spans(times_s, duration_s), curve)


def timeline(
    sims: FloatArray, times_s: FloatArray, duration_s: float, smooth: int, threshold: float | None
) -> list[tuple[FloatArray, tuple[Span, ...]]]:
    """Per prompt: the (smoothed) similarity curve and its flagged segments."""
    out = []
    for column in range(sims.shape[1]):
        curve = moving_average(sims[:, column], smooth)
        flagged = (
            () if threshold is None else above_threshold(curve, times_s, duration_s, threshold)
        )
        out.append((curve, flagged))
    return out


def prompt_labels(texts: Sequence[str]) -> list[str]:
    """Display labels, made unique so tables and CSV columns never collide."""
    seen: dict[str, int] = {}
    out = []
    for text in texts:
        n = seen.get(text, 0)
        seen[text] = n + 1
        out.append(text if n == 0 else f"{text} ({n + 1})")
    return out
