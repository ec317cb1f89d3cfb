"""Composite queries, per-video limits, time ranges, time order and calibrated thresholds:
the scoring on exact numbers, then end to end through a real server."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest

from scenesearch.client.remote import (
    ClientError,
    Hit,
    QueryTerm,
    SceneSearchClient,
    SearchFilters,
)
from scenesearch.server.errors import InvalidArgument
from scenesearch.server.query.composite import (
    MAX_TERMS,
    WeightedTerms,
    blend,
    check_weights,
    cosine_threshold,
    rescore,
)
from scenesearch.v1 import scenesearch_pb2 as pb
from tests.helpers import frame_png
from tests.support.synthetic import WrittenVideo, write_video


def test_positive_terms_blend_into_one_normalised_vector() -> None:
    vectors = np.asarray([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    terms = WeightedTerms(vectors, np.asarray([3.0, 1.0, -2.0], dtype=np.float32))
    q = blend(terms)
    np.testing.assert_allclose(q, [[3 / np.sqrt(10), 1 / np.sqrt(10), 0]], rtol=1e-6)


def test_negative_terms_subtract_their_weighted_cosine() -> None:
    terms = WeightedTerms(np.eye(3, dtype=np.float32), np.asarray([1, -0.5, -2], np.float32))
    query_cos = np.asarray([0.9, 0.4], dtype=np.float32)
    term_cos = np.asarray([[0.9, 0.2, 0.1], [0.4, -0.3, 0.5]], dtype=np.float32)
    # 0.9 - 0.5*0.2 - 2*0.1 = 0.6 ; 0.4 - 0.5*(-0.3) - 2*0.5 = -0.45
    np.testing.assert_allclose(rescore(query_cos, term_cos, terms), [0.6, -0.45], atol=1e-6)


def test_weights_are_checked() -> None:
    np.testing.assert_array_equal(check_weights([0.0, 2.0, -1.0]), [1.0, 2.0, -1.0])
    for bad, words in [
        ([], "no terms"),
        ([-1.0, -2.0], "only negative"),
        ([1.0] * (MAX_TERMS + 1), "at most"),
        ([float("nan")], "finite"),
    ]:
        with pytest.raises(InvalidArgument, match=words):
            check_weights(bad)
    cancel = WeightedTerms(np.asarray([[1, 0], [-1, 0]], np.float32), np.ones(2, np.float32))
    with pytest.raises(InvalidArgument, match="cancel"):
        blend(cancel)


def test_calibrated_threshold_is_the_inverse_of_a_sigmoid() -> None:
    def sigmoid(cos: np.ndarray) -> np.ndarray:
        return (1 / (1 + np.exp(-(10 * cos - 2)))).astype(np.float32)

    # sigmoid(10c - 2) = 0.5 at c = 0.2
    assert cosine_threshold(sigmoid, 0.5, 2.0) == pytest.approx(0.2, abs=1e-5)
    assert cosine_threshold(lambda c: c, 0.3, 2.0) == pytest.approx(0.3, abs=1e-6)
    assert cosine_threshold(sigmoid, 1.5, 2.0) == float("inf")


@pytest.fixture(scope="module")
def library(server_client: SceneSearchClient, media_root: Path) -> tuple[int, int, WrittenVideo]:
    """Two videos: three scenes (cuts at 2.0 s and 3.5 s) and two scenes."""
    first = write_video(media_root / "composite_a.mp4", [2.0, 1.5, 2.5], seed=61)
    second = write_video(media_root / "composite_b.mp4", [2.0, 2.0], seed=62)
    a = server_client.ingest_path(str(first.path)).video_id
    b = server_client.ingest_path(str(second.path)).video_id
    return a, b, first


@pytest.fixture(scope="module")
def server_client(server: object) -> SceneSearchClient:
    port = server.port  # type: ignore[attr-defined]
    return SceneSearchClient(f"127.0.0.1:{port}", timeout_s=60.0)


def _scores(hits: list[Hit]) -> dict[int, float]:
    return {h.scene_id: h.score for h in hits}


def test_composite_scores_follow_the_formula_exactly(
    server_client: SceneSearchClient, library: tuple[int, int, WrittenVideo]
) -> None:
    video_a, _, written = library
    keep, avoid = frame_png(written, 4.5), frame_png(written, 2.7)  # scenes 2 and 1
    only = [video_a]
    single_keep = _scores(server_client.search_image(keep, top_k=3, video_ids=only).hits)
    single_avoid = _scores(server_client.search_image(avoid, top_k=3, video_ids=only).hits)
    terms = [QueryTerm(image=keep), QueryTerm(image=avoid, weight=-0.5)]
    result = server_client.search_terms(terms, top_k=3, video_ids=only)
    assert len(result.hits) == 3
    for hit in result.hits:
        expected = single_keep[hit.scene_id] - 0.5 * single_avoid[hit.scene_id]
        assert hit.score == pytest.approx(expected, abs=1e-5)
        assert hit.term_scores == pytest.approx(
            [single_keep[hit.scene_id], single_avoid[hit.scene_id]], abs=1e-5
        )
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    # A strong enough push sends the avoided scene to the bottom.
    pushed = server_client.search_terms(
        [QueryTerm(image=keep), QueryTerm(image=avoid, weight=-5)], top_k=3, video_ids=only
    )
    assert max(single_avoid, key=single_avoid.__getitem__) == pushed.hits[-1].scene_id
    assert pushed.hits[-1].scene_index == 1


def test_a_single_query_reports_its_one_term_and_calibrated_score(
    server_client: SceneSearchClient, library: tuple[int, int, WrittenVideo]
) -> None:
    _, _, written = library
    hits = server_client.search_image(frame_png(written, 0.5), top_k=4).hits
    for hit in hits:
        assert hit.term_scores == pytest.approx([hit.score])
        assert hit.calibrated_score == pytest.approx(hit.score)  # CLIP: the cosine itself
    threshold = hits[1].score
    kept = server_client.search_image(
        frame_png(written, 0.5),
        top_k=4,
        min_score=threshold,
        filters=SearchFilters(calibrated=True),
    ).hits
    assert [h.scene_id for h in kept] == [h.scene_id for h in hits if h.score >= threshold]


def test_per_video_limit_time_range_and_time_order(
    server_client: SceneSearchClient, library: tuple[int, int, WrittenVideo]
) -> None:
    video_a, video_b, written = library
    both = [video_a, video_b]
    image = frame_png(written, 0.5)
    limited = server_client.search_image(
        image, top_k=5, video_ids=both, filters=SearchFilters(per_video_limit=1)
    ).hits
    assert sorted(h.video_id for h in limited) == sorted(both)

    window = server_client.search_image(
        image, top_k=10, video_ids=both, filters=SearchFilters(time_from_s=2.5, time_to_s=3.0)
    ).hits
    # Scenes overlapping 2.5-3.0 s: A's second scene (2.0-3.5) and B's second (2.0-4.0).
    assert sorted((h.video_id, h.scene_index) for h in window) == [(video_a, 1), (video_b, 1)]

    ordered = server_client.search_image(
        image, top_k=5, video_ids=both, filters=SearchFilters(sort_by_time=True)
    ).hits
    assert [(h.video_id, h.start_s) for h in ordered] == sorted(
        (h.video_id, h.start_s) for h in ordered
    )
    assert len(ordered) == 5


def test_bad_composite_requests_are_refused_with_the_right_status(
    server_client: SceneSearchClient, library: tuple[int, int, WrittenVideo]
) -> None:
    stub, timeout = server_client.stub, 30
    text = pb.QueryTerm(text="a dog")
    cases = [
        (pb.SearchRequest(terms=[pb.QueryTerm(text="x", weight=-1)]), "INVALID_ARGUMENT"),
        (pb.SearchRequest(terms=[text] * 17), "INVALID_ARGUMENT"),
        (pb.SearchRequest(text="a dog", terms=[text]), "INVALID_ARGUMENT"),
        (pb.SearchRequest(terms=[pb.QueryTerm(weight=1)]), "INVALID_ARGUMENT"),
        (pb.SearchRequest(terms=[pb.QueryTerm(scene_id=10**9)]), "NOT_FOUND"),
        (pb.SearchRequest(text="a", time_from_s=-1), "INVALID_ARGUMENT"),
        (pb.SearchRequest(text="a", time_from_s=3, time_to_s=1), "INVALID_ARGUMENT"),
        (pb.SearchRequest(text="a", per_video_limit=-1), "INVALID_ARGUMENT"),
    ]
    for request, code in cases:
        with pytest.raises(grpc.RpcError) as err:
            stub.Search(request, timeout=timeout)
        assert err.value.code().name == code, request
        assert err.value.details()
    with pytest.raises(ClientError) as client_err:
        server_client.search_terms([QueryTerm(text="a cat", weight=-1)])
    assert "positive term" in client_err.value.message
