"""The search planner's rule (query/plan.py): which path a filtered query takes, by how many
scenes it selects out of how many the index holds."""

from __future__ import annotations

import numpy as np

from scenesearch.server.query.plan import (
    POST_FILTER_WIDEN,
    choose_plan,
    exact_limit,
    post_filter_plan,
)


def ids(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64)


def test_the_exact_limit_grows_with_the_square_root_of_the_library() -> None:
    assert exact_limit("hnsw", 1_000) == 4096  # the floor
    assert exact_limit("hnsw", 100_000) == 12_899
    assert exact_limit("ivfpq", 1_000_000) == 40_792
    assert exact_limit("flat", 1_000_000) is None  # flat's selector scan is exact already
    assert exact_limit("hnsw", 1_000_000, {"hnsw": 0}) == 0  # an override wins


def test_paths_by_selectivity() -> None:
    none = np.zeros(0, np.int64)
    assert choose_plan("hnsw", None, none, 100_000).id_filter is None
    small = choose_plan("hnsw", ids(12_000), none, 100_000)
    assert small.exact and not small.post_filter
    wide = choose_plan("lsh", ids(30_000), none, 100_000)  # 30%: post-filtered
    assert wide.post_filter and not wide.exact
    assert wide.widen == POST_FILTER_WIDEN / 0.3
    middle = choose_plan("ivfpq", ids(20_000), none, 100_000)  # 20%: the index's selector
    assert not middle.exact and not middle.post_filter
    assert middle.id_filter is not None and middle.id_filter.allow is not None
    assert len(middle.id_filter.allow) == 20_000
    flat = choose_plan("flat", ids(10), none, 100_000)
    assert not flat.exact and not flat.post_filter


def test_exclusions_are_taken_out_of_the_selection() -> None:
    plan = choose_plan("hnsw", ids(5), np.array([2, 4, 99], np.int64), 100_000)
    assert plan.exact and plan.id_filter is not None and plan.id_filter.allow is not None
    assert plan.id_filter.allow.tolist() == [1, 3, 5]
    assert choose_plan("hnsw", ids(2), ids(2), 100_000).nothing
    post = choose_plan("hnsw", ids(50_000), np.array([7], np.int64), 100_000)
    assert post.post_filter and post.id_filter is not None and post.keep_ids is not None
    assert post.id_filter.allow is None  # searched with the exclusion only...
    assert post.id_filter.deny.tolist() == [7]
    assert 7 not in post.keep_ids.tolist()  # ...then filtered


def test_the_post_filter_is_decided_on_a_count() -> None:
    """A filter by videos alone: rule 3 needs no id list, only how many scenes it selects."""
    none = np.zeros(0, np.int64)
    post = post_filter_plan("ivfpq", 500_000, np.array([3], np.int64), 1_000_000)
    assert post is not None and post.post_filter and post.widen == 4.0
    assert post.id_filter is not None and post.id_filter.deny.tolist() == [3]
    assert post_filter_plan("ivfpq", 200_000, none, 1_000_000) is None  # 20%: the selector
    assert post_filter_plan("hnsw", 30_000, none, 100_000) is not None
    assert post_filter_plan("hnsw", 3_000, none, 10_000) is None  # under the exact limit
    assert post_filter_plan("flat", 500_000, none, 1_000_000) is None
