"""Columnar hits (server/query/hits.py): best moments, per-video ranks, time order, protos,
each against a plain per-hit definition."""

from __future__ import annotations

import numpy as np
import pytest

from scenesearch.client.results import Hit, fields_of, hit_from_proto
from scenesearch.server.api.convert import search_result_to_proto
from scenesearch.server.query.hits import HitTable, best_moment_times
from scenesearch.server.query.ranking import best_first, rank_in_video
from scenesearch.server.query.search import SearchResult
from scenesearch.server.storage.schema import FrameMatrix
from scenesearch.v1 import scenesearch_pb2 as pb


def frames_with_ties(rng: np.random.Generator, scenes: int) -> FrameMatrix:
    per_scene = rng.integers(1, 6, scenes)
    scene_ids = np.repeat(np.arange(1, scenes + 1) * 10, per_scene)
    times = rng.integers(0, 50, len(scene_ids)).astype(np.float64)
    # few distinct vectors, so several frames of a scene tie for its best
    palette = rng.normal(size=(3, 8)).astype(np.float32)
    vectors = palette[rng.integers(0, 3, len(scene_ids))]
    return FrameMatrix(times_s=times, vectors=vectors, scene_ids=scene_ids)


def expected_moments(frames: FrameMatrix, vector: np.ndarray, ids: np.ndarray) -> list[float]:
    sims = frames.vectors @ vector
    out = []
    for sid in ids.tolist():
        rows = np.flatnonzero(frames.scene_ids == sid)
        if not len(rows):
            out.append(np.nan)
            continue
        best = sims[rows].max()
        out.append(float(frames.times_s[rows][sims[rows] == best].min()))
    return out


@pytest.mark.parametrize("grouped", [True, False])
def test_best_moment_is_the_earliest_most_similar_frame(grouped: bool) -> None:
    rng = np.random.default_rng(3)
    frames = frames_with_ties(rng, 60)
    order = (
        np.lexsort((frames.times_s, frames.scene_ids))
        if grouped  # as the vector cache returns them
        else rng.permutation(len(frames.scene_ids))  # as SQLite may
    )
    frames = FrameMatrix(frames.times_s[order], frames.vectors[order], frames.scene_ids[order])
    vector = rng.normal(size=8).astype(np.float32)
    # unique, best first, so not sorted; 5 (no such scene) has no frames; 20, 30 left out
    ids = np.asarray([600, 10, 5, 350, *range(40, 350, 10), *range(360, 600, 10)])
    got = best_moment_times(frames, vector, ids)
    np.testing.assert_array_equal(got, expected_moments(frames, vector, ids))
    assert np.isnan(got[2]) and not np.isnan(got[[0, 1, 3]]).any()


def test_rank_in_video_counts_earlier_hits_of_the_same_video() -> None:
    videos = np.random.default_rng(4).integers(0, 7, 200)
    expected = [int((videos[:i] == v).sum()) for i, v in enumerate(videos.tolist())]
    assert rank_in_video(videos).tolist() == expected


def table(rng: np.random.Generator, n: int) -> HitTable:
    videos = rng.integers(1, 5, n)
    starts = rng.integers(0, 4, n).astype(np.float64)  # equal starts: order must be stable
    scores = np.sort(rng.random(n).astype(np.float32))[::-1].copy()
    return HitTable(
        scene_ids=np.arange(100, 100 + n),
        video_ids=videos,
        scene_indexes=rng.integers(0, 9, n),
        start_s=starts,
        end_s=starts + 1.5,
        best_time_s=starts + 0.25,
        scores=scores,
        calibrated=scores / 2,
        term_scores=np.stack([scores, -scores], axis=1),
        video_paths=[f"/videos/{v}.mp4" for v in videos.tolist()],
    )


def test_time_order_is_a_stable_sort_by_video_then_start() -> None:
    hits = table(np.random.default_rng(5), 80)
    expected = sorted(hits.objects("flat"), key=lambda h: (h.video_id, h.start_s))
    assert hits.by_time().objects("flat") == tuple(expected)


def test_protos_and_client_hits_carry_every_field() -> None:
    hits = table(np.random.default_rng(6), 30)
    result = SearchResult(hits, "hnsw", query_truncated=True)
    response = search_result_to_proto(result)
    assert response.index_kind == "hnsw" and response.query_truncated
    expected = [
        pb.SearchHit(
            video_id=h.video_id,
            video_path=h.video_path,
            scene_id=h.scene_id,
            scene_index=h.scene_index,
            start_s=h.start_s,
            end_s=h.end_s,
            best_time_s=h.best_time_s,
            score=h.score,
            index_kind=h.index_kind,
            term_scores=h.term_scores,
            calibrated_score=h.calibrated_score,
        )
        for h in result.hits
    ]
    assert list(response.hits) == expected
    parsed = pb.SearchResponse.FromString(response.SerializeToString())
    assert [hit_from_proto(h) for h in parsed.hits] == [fields_of(h, Hit) for h in parsed.hits]
    assert hit_from_proto(parsed.hits[0]).term_scores == pytest.approx(
        [float(hits.scores[0]), -float(hits.scores[0])]
    )


def test_best_first_is_a_stable_sort_cut_to_count() -> None:
    rng = np.random.default_rng(7)
    ids = np.sort(rng.choice(10_000, 500, replace=False))
    scores = rng.integers(0, 40, 500).astype(np.float32) / 8  # many ties
    order = np.argsort(-scores, kind="stable")
    for count in (1, 10, 37, 499, 500, 900):
        got_ids, got_scores = best_first(ids, scores, count)
        np.testing.assert_array_equal(got_ids, ids[order][:count])
        np.testing.assert_array_equal(got_scores, scores[order][:count])
