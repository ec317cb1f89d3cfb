"""The classify/timeline maths on hand-built similarity matrices with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from scenesearch.server.query import frame_maths as analytics


def sims_from_labels(labels: list[int], prompts: int) -> np.ndarray:
    """A similarity matrix whose best prompt per frame is `labels`."""
    sims = np.full((len(labels), prompts), 0.1)
    sims[np.arange(len(labels)), labels] = 0.9
    return sims


def test_sample_spans_cover_the_whole_video_including_a_partial_tail() -> None:
    times = np.array([0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(analytics.sample_spans(times, 3.4), [1, 1, 1, 0.4])
    irregular = np.array([0.0, 1.0, 1.5, 2.0])  # a scene start at 1.5 s
    np.testing.assert_allclose(analytics.sample_spans(irregular, 2.5), [1, 0.5, 0.5, 0.5])


def test_majority_per_interval_with_partial_last_interval() -> None:
    # 1 s samples over 12.5 s: labels 0 0 0 1 1 | 1 1 1 0 0 | 2 2 2
    labels = [0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 2, 2, 2]
    times = np.arange(13, dtype=float)
    result = analytics.classify(sims_from_labels(labels, 3), times, 12.5, 5.0)
    assert [(i.start_s, i.end_s) for i in result.intervals] == [(0, 5), (5, 10), (10, 12.5)]
    assert [i.label for i in result.intervals] == [0, 1, 2]
    assert [i.counts for i in result.intervals] == [(3, 2, 0), (2, 3, 0), (0, 0, 3)]


def test_interval_tie_goes_to_label_seen_first() -> None:
    result = analytics.classify(sims_from_labels([1, 0, 0, 1], 2), np.arange(4.0), 4.0, 4.0)
    assert result.intervals[0].label == 1


def test_interval_without_samples_takes_the_covering_sample() -> None:
    # Sampling every 4 s, labels every 2 s: the interval [2, 4) has no sample of its own.
    result = analytics.classify(sims_from_labels([0, 1], 2), np.array([0.0, 4.0]), 8.0, 2.0)
    assert [i.label for i in result.intervals] == [0, 0, 1, 1]


def test_coverage_first_seen_visible_and_segments() -> None:
    labels = [0, 0, 1, 1, 1, 0, 2, 2, 0, 0]
    times = np.arange(10, dtype=float)
    result = analytics.classify(sims_from_labels(labels, 3), times, 10.5, 5.0)
    office, beach, street = result.summaries
    assert office.visible_s == pytest.approx(5.5)  # 0,1,5,8,9: the last covers 9..10.5
    assert office.coverage_pct == pytest.approx(100 * 5.5 / 10.5)
    assert [(s.start_s, s.end_s) for s in office.segments] == [(0, 2), (5, 6), (8, 10.5)]
    assert beach.first_seen_s == 2.0 and beach.visible_s == 3.0
    assert [(s.start_s, s.end_s) for s in beach.segments] == [(2, 5)]
    assert street.first_seen_s == 6.0 and street.coverage_pct == pytest.approx(100 * 2 / 10.5)
    total = sum(s.coverage_pct for s in result.summaries)
    assert total == pytest.approx(100.0)


def test_contains_honours_minimum_visible_time_and_never_seen() -> None:
    labels = [0, 0, 0, 1, 0, 0]
    result = analytics.classify(
        sims_from_labels(labels, 3), np.arange(6.0), 6.0, 5.0, min_visible_s=2.0
    )
    seen_long, seen_once, never = result.summaries
    assert seen_long.contains and not seen_once.contains and not never.contains
    assert never.first_seen_s == -1.0 and never.segments == () and never.visible_s == 0.0
    lenient = analytics.classify(sims_from_labels(labels, 3), np.arange(6.0), 6.0, 5.0)
    assert lenient.summaries[1].contains


def test_null_class_absorbs_frames_matching_nothing() -> None:
    # Prompts 0 and 1 score 0.2 on the middle frames; the null column (2) scores 0.25.
    sims = np.array([[0.8, 0.1, 0.25], [0.2, 0.2, 0.25], [0.2, 0.1, 0.25], [0.1, 0.7, 0.25]])
    result = analytics.classify(sims, np.arange(4.0), 4.0, 1.0)
    assert [i.label for i in result.intervals] == [0, 2, 2, 1]
    assert result.summaries[2].visible_s == 2.0


def test_moving_average_is_centred_and_shrinks_at_the_edges() -> None:
    values = np.array([0.0, 0.0, 3.0, 0.0, 0.0])
    np.testing.assert_allclose(analytics.moving_average(values, 3), [0, 1, 1, 1, 0])
    np.testing.assert_allclose(analytics.moving_average(values, 1), values)
    np.testing.assert_allclose(analytics.moving_average(np.array([2.0, 4.0]), 3), [3, 3])


def test_threshold_segments_include_the_edge_value_and_report_peaks() -> None:
    curve = np.array([0.1, 0.3, 0.5, 0.3, 0.29, 0.3, 0.4])
    times = np.arange(7.0)
    spans = analytics.above_threshold(curve, times, 7.5, 0.3)
    assert [(s.start_s, s.end_s) for s in spans] == [(1, 4), (5, 7.5)]
    assert [(s.peak_s, s.peak_score) for s in spans] == [(2, 0.5), (6, 0.4)]
    assert analytics.above_threshold(curve, times, 7.5, 0.6) == ()


def test_timeline_smooths_then_flags() -> None:
    sims = np.array([[0.0], [1.0], [0.0], [0.0]])
    ((curve, flagged),) = analytics.timeline(sims, np.arange(4.0), 4.0, smooth=3, threshold=0.3)
    np.testing.assert_allclose(curve, [0.5, 1 / 3, 1 / 3, 0.0])
    assert [(s.start_s, s.end_s) for s in flagged] == [(0, 3)]
    ((_, none),) = analytics.timeline(sims, np.arange(4.0), 4.0, smooth=0, threshold=None)
    assert none == ()


def test_prompt_labels_are_unique() -> None:
    assert analytics.prompt_labels(["a", "b", "a"]) == ["a", "b", "a (2)"]
