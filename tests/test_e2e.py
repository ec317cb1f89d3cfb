"""End to end over a real gRPC server on 127.0.0.1:0 with the tiny CLIP model."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from scenesearch.client.remote import ClientError, IngestUpdate, SceneSearchClient
from scenesearch.server.app import RunningServer, start_server
from tests.conftest import make_settings
from tests.helpers import frame_png, ingest
from tests.support.synthetic import WrittenVideo, write_video


def test_ingest_by_path_streams_progress_and_records_scenes(
    client: SceneSearchClient, three_scenes: WrittenVideo
) -> None:
    updates: list[IngestUpdate] = []
    final = client.ingest_path(str(three_scenes.path), on_progress=updates.append)
    assert final.stage == "done" and final.video_id > 0
    stages = [u.stage for u in updates]
    assert (stages[-1] == "done" and "decoding" in stages) or final.already_ingested
    fractions = [u.fraction for u in updates]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    detail = client.get_video(final.video_id)
    assert [round(s.start_s, 3) for s in detail.scenes] == [0.0, 2.0, 3.5]
    assert detail.scenes[-1].end_s == pytest.approx(6.0, abs=0.04)
    assert detail.video.scene_count == 3 and detail.video.width == 320


def test_reingest_same_content_is_not_duplicated(
    client: SceneSearchClient, three_scenes: WrittenVideo
) -> None:
    first = ingest(client, three_scenes.path)
    again = client.ingest_path(str(three_scenes.path))
    assert again.already_ingested and again.video_id == first
    assert sum(v.path == str(three_scenes.path) for v in client.list_videos()) == 1


def test_upload_ingests_the_same_as_by_path(client: SceneSearchClient, tmp_path: Path) -> None:
    video = write_video(tmp_path / "uploaded clip.mp4", [1.5, 2.0], seed=21)
    updates: list[IngestUpdate] = []
    final = client.upload(video.path, on_progress=updates.append)
    assert final.video_id > 0 and not final.already_ingested
    assert updates[-1].stage == "done"
    detail = client.get_video(final.video_id)
    assert detail.video.path == "upload:uploaded clip.mp4"
    assert [round(s.start_s, 3) for s in detail.scenes] == [0.0, 1.5]
    # The upload is the same bytes as a path ingest would read: deduplicated by content.
    assert client.upload(video.path).already_ingested


@pytest.mark.parametrize("scene", [0, 1, 2])
def test_image_of_scene_k_finds_scene_k_first(
    client: SceneSearchClient, three_scenes: WrittenVideo, scene: int
) -> None:
    video_id = ingest(client, three_scenes.path)
    middle = three_scenes.scene_starts_s[scene] + 0.5
    results = client.search_image(frame_png(three_scenes, middle), top_k=5)
    top = results.hits[0]
    assert (top.video_id, top.scene_index) == (video_id, scene)
    assert top.start_s <= top.best_time_s < top.end_s
    assert results.index_kind == "flat"


def test_text_search_returns_well_formed_ranked_hits(
    client: SceneSearchClient, three_scenes: WrittenVideo, two_scenes: WrittenVideo
) -> None:
    ingest(client, three_scenes.path)
    ingest(client, two_scenes.path)
    results = client.search_text("a white square moving over coloured blocks", top_k=4)
    assert len(results.hits) == 4 and not results.query_truncated
    scores = [h.score for h in results.hits]
    assert scores == sorted(scores, reverse=True)
    videos = {v.id: v for v in client.list_videos()}
    for hit in results.hits:
        assert hit.video_path == videos[hit.video_id].path
        assert 0 <= hit.start_s < hit.end_s <= videos[hit.video_id].duration_s + 1e-6
        assert hit.start_s <= hit.best_time_s < hit.end_s
        assert -1.0 <= hit.score <= 1.0


def test_filters_top_k_and_min_score(
    client: SceneSearchClient, three_scenes: WrittenVideo, two_scenes: WrittenVideo
) -> None:
    wanted = ingest(client, two_scenes.path)
    ingest(client, three_scenes.path)
    only = client.search_text("blocks", top_k=10, video_ids=[wanted])
    assert {h.video_id for h in only.hits} == {wanted} and len(only.hits) == 2
    everything = client.search_text("blocks", top_k=3)
    assert len(everything.hits) == 3
    threshold = everything.hits[1].score
    above = client.search_text("blocks", top_k=10, min_score=threshold)
    assert all(h.score >= threshold for h in above.hits) and len(above.hits) >= 2


def test_more_like_this_excludes_the_scene_itself(
    client: SceneSearchClient, three_scenes: WrittenVideo, two_scenes: WrittenVideo
) -> None:
    video_id = ingest(client, three_scenes.path)
    ingest(client, two_scenes.path)
    scene = client.get_video(video_id).scenes[1]
    hits = client.search_scene(scene.id, top_k=20).hits
    assert scene.id not in {h.scene_id for h in hits} and hits
    other = client.search_scene(scene.id, top_k=20, exclude_same_video=True).hits
    assert other and video_id not in {h.video_id for h in other}


def test_bad_queries_get_specific_statuses(client: SceneSearchClient) -> None:
    cases = [
        (lambda: client.search_text("   "), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: client.search_image(b"not an image"), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: client.search_text("x", top_k=-1), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: client.search_text("x", top_k=100_000), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda: client.search_scene(987654), grpc.StatusCode.NOT_FOUND),
        (lambda: client.get_video(987654), grpc.StatusCode.NOT_FOUND),
        (lambda: client.delete_video(987654), grpc.StatusCode.NOT_FOUND),
        (lambda: client.ingest_path("/etc/passwd"), grpc.StatusCode.PERMISSION_DENIED),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as info:
            call()
        assert info.value.code == code, info.value
        assert info.value.message
    long_query = client.search_text("scene " * 120, top_k=1)
    assert long_query.query_truncated


def test_delete_removes_video_from_search(
    client: SceneSearchClient, tmp_path: Path, media_root: Path
) -> None:
    video = write_video(media_root / "to_delete.mp4", [1.5, 1.5], seed=99)
    video_id = ingest(client, video.path)
    query = frame_png(video, 0.5)
    assert client.search_image(query, top_k=1).hits[0].video_id == video_id
    assert client.delete_video(video_id) == 2
    hits = client.search_image(query, top_k=50).hits
    assert video_id not in {h.video_id for h in hits}
    assert video_id not in {v.id for v in client.list_videos()}


def test_stats_health_and_reflection(client: SceneSearchClient, server: RunningServer) -> None:
    stats = client.stats()
    assert stats.dimension == 64 and stats.device == "cpu (float32)" and stats.index_kind == "flat"
    assert stats.index_size == stats.scene_count
    deadline = time.monotonic() + 30  # the read copies of the vectors finish building
    while stats.warming and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = client.stats()
    assert not stats.warming
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service="scenesearch.v1.SceneSearch"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
        assert "scenesearch.v1.SceneSearch" in services
        assert "grpc.health.v1.Health" in services


@pytest.mark.slow
def test_restart_keeps_data_and_missing_index_is_rebuilt_identically(
    tmp_path: Path,
    tiny_model: Path,
    media_root: Path,
    three_scenes: WrittenVideo,
    two_scenes: WrittenVideo,
) -> None:
    settings = make_settings(tmp_path / "data", tiny_model, media_root)

    def snapshot(running: RunningServer) -> list[tuple[int, float]]:
        with SceneSearchClient(f"127.0.0.1:{running.port}") as c:
            hits = c.search_image(frame_png(three_scenes, 2.5), top_k=5).hits
            return [(h.scene_id, round(h.score, 5)) for h in hits]

    first = start_server(settings)
    try:
        with SceneSearchClient(f"127.0.0.1:{first.port}") as c:
            ingest(c, three_scenes.path)
            ingest(c, two_scenes.path)
        before = snapshot(first)
    finally:
        first.stop(1.0)
    assert (settings.data_dir / "index.faiss").exists()

    second = start_server(settings)
    try:
        assert snapshot(second) == before
    finally:
        second.stop(1.0)

    (settings.data_dir / "index.faiss").unlink()
    shutil.rmtree(settings.data_dir / "uploads", ignore_errors=True)
    third = start_server(settings)
    try:
        assert third.index.count() == 5
        assert snapshot(third) == before
    finally:
        third.stop(1.0)
