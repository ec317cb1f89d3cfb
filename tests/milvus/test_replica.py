"""Search replicas end to end: a primary (the suite's Milvus-backed server) and a replica
(`--replica-of`) on the same Milvus, both real gRPC servers on loopback. What the primary
ingests, deletes or learns shows on the replica after its sync, with the same answers; what
only the primary may do is refused on the replica with the primary's address."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from scenesearch.client.channel import ClientError
from scenesearch.client.concepts import ConceptExamples
from scenesearch.client.remote import SceneSearchClient
from scenesearch.client.results import QueryTerm, SearchFilters, TemporalStep
from scenesearch.server.app import RunningServer, start_server
from scenesearch.server.config import Settings
from scenesearch.server.errors import ModelMismatch
from scenesearch.server.index.milvus_local import LocalMilvus
from scenesearch.server.replica.methods import ON_REPLICA, SERVICE
from scenesearch.server.storage.milvus_target import MilvusTarget
from scenesearch.v1 import scenesearch_pb2 as pb
from scenesearch.v1 import scenesearch_pb2_grpc as pb_grpc
from tests.conftest import make_settings
from tests.helpers import frame_png, ingest
from tests.milvus.test_loopback import (
    test_no_listener_of_the_run_is_bound_beyond_loopback as check_loopback,
)
from tests.support.random_model import write_random_model
from tests.support.synthetic import WrittenVideo, write_video

SYNC_S = 0.2


def replica_settings(
    data_dir: Path, tiny_model: Path, media_root: Path, uri: str, primary: int
) -> Settings:
    return replace(
        make_settings(data_dir, tiny_model, media_root),
        backend="milvus",
        milvus=MilvusTarget(uri=uri),
        replica_of=f"127.0.0.1:{primary}",
        replica_sync_s=SYNC_S,
    )


@pytest.fixture(scope="module")
def replica(
    tmp_path_factory: pytest.TempPathFactory,
    server: RunningServer,
    tiny_model: Path,
    media_root: Path,
    milvus_uri: str,
) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("replica")
    running = start_server(
        replica_settings(data_dir, tiny_model, media_root, milvus_uri, server.port)
    )
    yield running
    running.stop(1.0)


@pytest.fixture()
def mirror(replica: RunningServer) -> Iterator[SceneSearchClient]:
    with SceneSearchClient(f"127.0.0.1:{replica.port}", timeout_s=60.0) as c:
        yield c


@pytest.fixture(scope="module")
def videos(media_root: Path) -> list[WrittenVideo]:
    return [
        write_video(media_root / "replica_a.mp4", [1.5, 2.0, 1.0], seed=4101),
        write_video(media_root / "replica_b.mp4", [2.2, 1.3], seed=4102, fps=24.0),
    ]


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"the replica did not catch up: {what}"
        time.sleep(SYNC_S / 2)


def same_library(primary: SceneSearchClient, mirror: SceneSearchClient) -> bool:
    ready = [v.id for v in primary.list_videos() if v.status == "ready"]
    return [v.id for v in mirror.list_videos()] == ready


def raw_stats(port: int) -> pb.GetStatsResponse:
    """GetStats as sent (the typed client shows no store_id or library_version)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return pb_grpc.SceneSearchStub(channel).GetStats(pb.GetStatsRequest(), timeout=30)


def test_every_rpc_is_classified() -> None:
    assert set(ON_REPLICA) == {m.name for m in SERVICE.methods}


def test_replica_answers_as_the_primary(
    server: RunningServer,
    replica: RunningServer,
    client: SceneSearchClient,
    mirror: SceneSearchClient,
    videos: list[WrittenVideo],
) -> None:
    ids = [ingest(client, v.path) for v in videos]
    eventually(lambda: same_library(client, mirror), "new videos")
    ps, rs = raw_stats(server.port), raw_stats(replica.port)
    assert rs.store_id == ps.store_id and ps.library_version > 0 and rs.model == ps.model
    assert (rs.video_count, rs.scene_count, rs.frame_count) == (
        ps.video_count,
        ps.scene_count,
        ps.frame_count,
    )
    assert rs.index_kind == ps.index_kind and rs.jobs_queued == rs.jobs_running == 0
    scene = client.get_video(ids[0]).scenes[1].id
    assert mirror.get_video(ids[0]) == client.get_video(ids[0])
    searches: list[Callable[[SceneSearchClient], object]] = [
        lambda c: c.search_text("a red square", top_k=10),
        lambda c: c.search_image(frame_png(videos[1], 2.5), top_k=5),
        lambda c: c.search_scene(scene, top_k=5),
        lambda c: c.search_text("blocks", top_k=5, video_ids=ids, min_score=-1.0),
        lambda c: c.search_scene(
            scene, top_k=5, filters=SearchFilters(time_from_s=1.0, per_video_limit=1)
        ),
    ]
    for search in searches:
        primary_hits, replica_hits = search(client), search(mirror)
        assert replica_hits == primary_hits
    assert client.search_scene(scene, top_k=3).hits  # not vacuous
    prompts = [frame_png(videos[0], t) for t in (0.5, 2.5)]
    assert mirror.classify(ids, prompt_images=prompts, interval_s=0.5) == client.classify(
        ids, prompt_images=prompts, interval_s=0.5
    )
    assert mirror.timeline(ids[:1], ["red", "blue"]) == client.timeline(ids[:1], ["red", "blue"])
    steps = [
        TemporalStep(QueryTerm(scene_id=scene), threshold=0.0),
        TemporalStep(QueryTerm(text="blue"), threshold=0.99, negated=True),
    ]
    spans = client.temporal_search(steps, 5.0, video_ids=ids)
    assert spans.spans and mirror.temporal_search(steps, 5.0, video_ids=ids) == spans
    thumb = mirror.thumbnail(scene)  # the primary's own, asked for once and kept
    assert thumb == client.thumbnail(scene) and thumb.jpeg.startswith(b"\xff\xd8")


def test_concepts_and_deletes_reach_the_replica(
    client: SceneSearchClient, mirror: SceneSearchClient, media_root: Path
) -> None:
    video = write_video(media_root / "replica_c.mp4", [1.2, 1.8], seed=4103)
    video_id = ingest(client, video.path)
    scenes = [s.id for s in client.get_video(video_id).scenes]
    # One marked negative: random library frames are drawn as extra negatives, read from
    # Milvus (the catalog keeps no vectors on this backend).
    negative = ConceptExamples(texts=["something else"])
    client.save_concept("replica-test", ConceptExamples(scene_ids=scenes[:1]), negative)
    eventually(
        lambda: (
            same_library(client, mirror)
            and [c.name for c in mirror.list_concepts()] == [c.name for c in client.list_concepts()]
        ),
        "a new video and concept",
    )
    assert mirror.get_concept("replica-test") == client.get_concept("replica-test")
    terms = [QueryTerm(concept="replica-test")]
    assert mirror.search_terms(terms, top_k=5) == client.search_terms(terms, top_k=5)
    client.delete_concept("replica-test")
    client.delete_video(video_id)
    eventually(lambda: same_library(client, mirror), "a deleted video")
    with pytest.raises(ClientError) as gone:
        mirror.get_video(video_id)
    assert gone.value.code == grpc.StatusCode.NOT_FOUND
    eventually(lambda: not mirror.list_concepts(), "a deleted concept")
    hits = mirror.search_text("blocks", top_k=50).hits
    assert video_id not in {h.video_id for h in hits}
    # the same library as the primary's (empty when this test runs alone)
    assert hits == client.search_text("blocks", top_k=50).hits


def test_the_replica_follows_a_rebuild_on_the_primary(
    client: SceneSearchClient, mirror: SceneSearchClient
) -> None:
    kind = client.stats().index_kind
    client.rebuild_index("hnsw", {"M": "8", "efSearch": "64"})
    try:
        eventually(lambda: mirror.stats().index_kind == "hnsw", "the primary's new index kind")
        assert mirror.stats().index_params == client.stats().index_params
        assert mirror.search_text("blocks", top_k=5) == client.search_text("blocks", top_k=5)
    finally:
        client.rebuild_index(kind)


def test_writes_are_refused_with_the_primary_address(
    server: RunningServer, mirror: SceneSearchClient, videos: list[WrittenVideo]
) -> None:
    primary = f"127.0.0.1:{server.port}"
    calls: dict[str, Callable[[], object]] = {
        "IngestVideo": lambda: mirror.ingest_path(str(videos[0].path)),
        "DeleteVideo": lambda: mirror.delete_video(1),
        "RebuildIndex": lambda: mirror.rebuild_index("flat"),
        "SaveConcept": lambda: mirror.save_concept("x", ConceptExamples(texts=["x"])),
    }
    for name, call in calls.items():
        with pytest.raises((ClientError, grpc.RpcError)) as refused:
            call()
        error = refused.value
        code = error.code if isinstance(error, ClientError) else error.code()
        message = error.message if isinstance(error, ClientError) else error.details()
        assert code == grpc.StatusCode.FAILED_PRECONDITION, name
        assert f"read replica of {primary}; send {name} there" in str(message), name


def test_a_replica_of_another_model_or_a_faiss_server_is_refused(
    tmp_path: Path, server: RunningServer, tiny_model: Path, media_root: Path, milvus_uri: str
) -> None:
    settings = replica_settings(tmp_path / "r", tiny_model, media_root, milvus_uri, server.port)
    with pytest.raises(ModelMismatch, match="--model"):
        start_server(replace(settings, model=str(tmp_path / "another-model")))
    with pytest.raises(ValueError, match="--backend milvus"):
        replace(settings, backend="faiss", milvus=None)


def test_the_replica_listens_on_loopback_only(
    replica: RunningServer, mirror: SceneSearchClient, local_milvus: LocalMilvus
) -> None:
    check_loopback(mirror, local_milvus)


@pytest.mark.slow  # about 26 s: a primary of its own, two models, a re-embed
def test_a_reembed_on_the_primary_ends_the_replica_with_the_new_model(
    tmp_path: Path, tiny_model: Path, media_root: Path, milvus_uri: str
) -> None:
    """After a swap the replica's model cannot answer for the primary's library: it stops
    for good, with the flag to restart it with (serve() then exits non-zero)."""
    new_model = write_random_model(tmp_path / "siglip-new", "siglip", seed=4105)
    settings = replace(
        make_settings(tmp_path / "primary", tiny_model, media_root),
        backend="milvus",
        milvus=MilvusTarget(uri=milvus_uri),
    )
    primary = start_server(settings)
    try:
        with SceneSearchClient(f"127.0.0.1:{primary.port}", timeout_s=60.0) as client:
            ingest(client, write_video(media_root / "replica_d.mp4", [1.1], seed=4104).path)
            replica = start_server(
                replica_settings(tmp_path / "r", tiny_model, media_root, milvus_uri, primary.port)
            )
            try:
                assert client.reembed(str(new_model)).state == "done"
                assert replica.stopped.wait(30.0), "the replica kept serving the old library"
                assert replica.failure is not None
                assert f"--model {str(new_model)!r}" in replica.failure
            finally:
                replica.stop(0.5)
    finally:
        primary.stop(0.5)
