"""Property-based tests: request validation, proto ⇄ domain conversion, random-bytes input."""

from __future__ import annotations

import math
from pathlib import Path

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenesearch.client.remote import ClientError, SceneSearchClient
from scenesearch.contract import DETECTORS, SAMPLE_INTERVAL_RANGE_S
from scenesearch.server.api import convert
from scenesearch.server.domain import IngestParams, Progress, SceneHit, Stage, Video
from scenesearch.server.errors import InvalidArgument, NotFound, PermissionDenied
from scenesearch.server.ingest.media import resolve_media_path
from scenesearch.server.query.hits import HitTable
from scenesearch.server.query.search import ImageQuery, SceneQuery, SearchResult, TextQuery
from scenesearch.v1 import scenesearch_pb2 as pb

DEFAULTS = IngestParams(1.0, "content", 0.0, 16)
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
# Statuses a deliberate rejection may carry; never INTERNAL or UNKNOWN.
EXPECTED = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}


@given(interval=finite, detector=st.text(max_size=12), threshold=finite)
def test_ingest_options_are_accepted_or_rejected_cleanly(
    interval: float, detector: str, threshold: float
) -> None:
    options = pb.IngestOptions(sample_interval_s=interval, detector=detector, threshold=threshold)
    try:
        params = convert.ingest_params(options, DEFAULTS)
    except InvalidArgument as exc:
        assert str(exc)
        return
    low, high = SAMPLE_INTERVAL_RANGE_S
    assert low <= params.sample_interval_s <= high
    assert params.detector in DETECTORS and params.threshold >= 0


@given(
    which=st.sampled_from(["text", "image", "scene_id", None]),
    text=st.text(max_size=50),
    image=st.binary(max_size=64),
    scene=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    top_k=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    videos=st.lists(st.integers(min_value=0, max_value=2**40), max_size=5),
    min_score=st.one_of(st.none(), finite),
    exclude=st.booleans(),
)
def test_search_request_round_trips_into_the_domain(
    which: str | None,
    text: str,
    image: bytes,
    scene: int,
    top_k: int,
    videos: list[int],
    min_score: float | None,
    exclude: bool,
) -> None:
    request = pb.SearchRequest(top_k=top_k, video_ids=videos, exclude_same_video=exclude)
    if min_score is not None:
        request.min_score = min_score
    if which == "text":
        request.text = text
    elif which == "image":
        request.image = image
    elif which == "scene_id":
        request.scene_id = scene
    wire = pb.SearchRequest.FromString(request.SerializeToString())
    if which is None:
        with pytest.raises(InvalidArgument):
            convert.query_from_proto(wire)
        return
    query = convert.query_from_proto(wire)
    expected = {
        "text": TextQuery(text),
        "image": ImageQuery(image),
        "scene_id": SceneQuery(scene, exclude),
    }[which]
    assert query == expected
    options = convert.search_options(wire)
    assert options.top_k == top_k and list(options.video_ids) == videos
    assert options.min_score == (-math.inf if min_score is None else pytest.approx(min_score))


@given(
    st.builds(
        SceneHit,
        video_id=st.integers(0, 2**62),
        video_path=st.text(),
        scene_id=st.integers(0, 2**62),
        scene_index=st.integers(0, 2**31 - 1),
        start_s=finite,
        end_s=finite,
        best_time_s=finite,
        score=st.floats(-3.0, 3.0),  # a cosine, or a composite score
        index_kind=st.sampled_from(["flat", "hnsw", "ivfpq", "lsh"]),
    )
)
def test_hits_survive_the_wire(hit: SceneHit) -> None:
    score = np.asarray([hit.score], np.float32)
    one = HitTable(
        scene_ids=np.asarray([hit.scene_id]),
        video_ids=np.asarray([hit.video_id]),
        scene_indexes=np.asarray([hit.scene_index]),
        start_s=np.asarray([hit.start_s]),
        end_s=np.asarray([hit.end_s]),
        best_time_s=np.asarray([hit.best_time_s]),
        scores=score,
        calibrated=score,
        term_scores=score[:, None],
        video_paths=[hit.video_path],
    )
    response = convert.search_result_to_proto(SearchResult(one, hit.index_kind))
    wire = pb.SearchResponse.FromString(response.SerializeToString()).hits[0]
    assert (wire.video_id, wire.video_path, wire.scene_id, wire.scene_index) == (
        hit.video_id,
        hit.video_path,
        hit.scene_id,
        hit.scene_index,
    )
    assert wire.start_s == hit.start_s and wire.best_time_s == hit.best_time_s
    assert wire.score == pytest.approx(hit.score, rel=1e-6, abs=1e-30)


@given(
    st.builds(
        Video,
        id=st.integers(1, 2**62),
        path=st.text(),
        content_hash=st.text(),
        duration_s=finite,
        fps=finite,
        width=st.integers(0, 2**31 - 1),
        height=st.integers(0, 2**31 - 1),
        frame_count=st.integers(0, 2**62),
        scene_count=st.integers(0, 2**31 - 1),
        sample_count=st.integers(0, 2**31 - 1),
        ingested_at=finite,
        rotation=st.sampled_from([0, 90, -90, 180]),
        status=st.sampled_from(["ready", "ingesting"]),
    ),
    st.builds(
        Progress,
        job_id=st.text(),
        stage=st.sampled_from(list(Stage)),
        fraction=finite,
        frames_done=st.integers(0, 2**40),
    ),
)
def test_videos_and_progress_survive_the_wire(video: Video, progress: Progress) -> None:
    wire = pb.Video.FromString(convert.video_to_proto(video).SerializeToString())
    assert (wire.id, wire.path, wire.frame_count, wire.status) == (
        video.id,
        video.path,
        video.frame_count,
        video.status,
    )
    message = convert.progress_to_proto(progress)
    assert message.stage == convert.STAGES[progress.stage] != pb.INGEST_STAGE_UNSPECIFIED


@given(st.text(max_size=80))
def test_media_paths_never_escape_the_root(
    tmp_path_factory: pytest.TempPathFactory, raw: str
) -> None:
    root = tmp_path_factory.getbasetemp() / "fuzz-root"
    root.mkdir(exist_ok=True)
    for candidate in (raw, f"{root}/{raw}"):
        try:
            resolved = resolve_media_path(candidate, [root.resolve()])
        except (InvalidArgument, NotFound, PermissionDenied):
            continue
        assert root.resolve() in resolved.parents


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=0, max_size=4096))
def test_random_bytes_as_image_queries(client: SceneSearchClient, data: bytes) -> None:
    try:
        client.search_image(data, top_k=1)
    except ClientError as exc:
        assert exc.code in EXPECTED, exc


@pytest.mark.slow
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(min_size=0, max_size=8192),
    header=st.sampled_from([b"", b"\x00\x00\x00\x18ftypmp42", b"\x1aE\xdf\xa3", b"RIFF"]),
)
def test_random_bytes_as_uploads(
    client: SceneSearchClient, tmp_path_factory: pytest.TempPathFactory, data: bytes, header: bytes
) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "random.mp4"
    path.write_bytes(header + data)
    try:
        client.upload(path)
    except ClientError as exc:
        assert exc.code in EXPECTED, exc
    assert client.stats().index_size >= 0  # still serving
