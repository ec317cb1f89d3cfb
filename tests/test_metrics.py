"""Prometheus metrics (--metrics-port): a real server on 127.0.0.1, scraped over HTTP before and
after an ingest, searches and a bad request."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from scenesearch.client.channel import ClientError
from scenesearch.client.cli import build_parser
from scenesearch.client.remote import SceneSearchClient
from scenesearch.contract import DEFAULT_INDEX_KIND
from scenesearch.server.app import RunningServer, start_server
from scenesearch.server.config import Settings, settings_from_args
from scenesearch.server.metrics.endpoint import host_of, serve_metrics
from scenesearch.server.metrics.prometheus import PrometheusMetrics
from scenesearch.v1 import scenesearch_pb2 as pb
from tests.conftest import make_settings
from tests.support.synthetic import write_video

SERVICE = "scenesearch.v1.SceneSearch"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: RunningServer) -> Samples:
    assert server.metrics is not None
    url = f"http://127.0.0.1:{server.metrics.port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 for a labelled series not yet seen (as Prometheus reads it)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def rpc_count(samples: Samples, method: str, code: str, rpc_type: str = "unary") -> float:
    return value(
        samples,
        "grpc_server_handled_total",
        grpc_service=SERVICE,
        grpc_method=method,
        grpc_type=rpc_type,
        grpc_code=code,
    )


@pytest.fixture(scope="module")
def metrics_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, media_root: Path
) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("metrics-data"), tiny_model, media_root, metrics_port=0
    )
    running = start_server(settings)
    yield running
    running.stop(1.0)


@pytest.fixture()
def api(metrics_server: RunningServer) -> Iterator[SceneSearchClient]:
    with SceneSearchClient(f"127.0.0.1:{metrics_server.port}", timeout_s=60.0) as c:
        yield c


def test_metrics_move_after_ingest_and_searches(
    metrics_server: RunningServer, api: SceneSearchClient, media_root: Path
) -> None:
    assert metrics_server.metrics is not None
    assert metrics_server.metrics.host == "127.0.0.1"  # the gRPC address's host, not 0.0.0.0
    assert metrics_server.metrics.port > 0
    before = scrape(metrics_server)
    assert value(before, "scenesearch_index_vectors", kind=DEFAULT_INDEX_KIND) == 0
    assert value(before, "scenesearch_ingest_queue_depth") == 0

    video = write_video(media_root / "metrics_two_cuts.mp4", [1.3, 0.9, 1.1], seed=1401)
    done = api.ingest_path(str(video.path))
    assert done.stage == "done" and not done.already_ingested, done
    hits = api.search_text("a red square", top_k=3)
    assert hits.hits
    with pytest.raises(ClientError) as bad:
        api.search_text("a red square", top_k=-5)
    assert bad.value.code.name == "INVALID_ARGUMENT"
    after = scrape(metrics_server)

    # Per-RPC status codes and latency, unary and streaming.
    assert rpc_count(after, "Search", "OK") == rpc_count(before, "Search", "OK") + 1
    assert (
        rpc_count(after, "Search", "INVALID_ARGUMENT")
        == rpc_count(before, "Search", "INVALID_ARGUMENT") + 1
    )
    assert rpc_count(after, "IngestVideo", "OK", "server_stream") == 1
    labels = {"grpc_service": SERVICE, "grpc_method": "Search", "grpc_type": "unary"}
    assert value(after, "grpc_server_handling_seconds_count", **labels) == 2
    assert value(after, "grpc_server_handling_seconds_sum", **labels) > 0

    # Index size and kind: the gauge is the live vector count, one per scene.
    vectors = value(after, "scenesearch_index_vectors", kind=DEFAULT_INDEX_KIND)
    assert vectors == metrics_server.index.count() == len(api.get_video(done.video_id).scenes)
    assert vectors >= 2

    # Text batches: the valid search went through the text encoder.
    batches = value(after, "scenesearch_text_batch_size_count")
    assert batches >= value(before, "scenesearch_text_batch_size_count") + 1
    assert value(after, "scenesearch_text_batch_size_sum") >= batches

    # Ingest frames and job outcome; the queue is empty again.
    decoded = value(after, "scenesearch_ingest_frames_total", stage="decoded")
    assert decoded == len(video.frame_times_s)
    assert 0 < value(after, "scenesearch_ingest_frames_total", stage="embedded") <= decoded
    assert value(after, "scenesearch_ingest_busy_seconds_total") > 0
    assert value(after, "scenesearch_ingest_last_job_frames_per_second") > 0
    assert value(after, "scenesearch_ingest_jobs_total", outcome="ingested") == 1
    assert value(after, "scenesearch_ingest_queue_depth") == 0

    # Backend latency by backend and operation.
    for backend, operation in [
        ("faiss", "search"),
        ("faiss", "add"),
        ("catalog", "commit"),
        ("model", "embed_texts"),
    ]:
        count = value(
            after, "scenesearch_backend_seconds_count", backend=backend, operation=operation
        )
        assert count >= 1, (backend, operation)
    assert value(
        after, "scenesearch_backend_seconds_count", backend="faiss", operation="search"
    ) > value(before, "scenesearch_backend_seconds_count", backend="faiss", operation="search")


def test_a_duplicate_ingest_counts_as_one(
    metrics_server: RunningServer, api: SceneSearchClient, media_root: Path
) -> None:
    video = write_video(media_root / "metrics_dup.mp4", [1.2], seed=1402)
    first = api.ingest_path(str(video.path))
    before = scrape(metrics_server)
    again = api.ingest_path(str(video.path))
    after = scrape(metrics_server)
    assert again.already_ingested and again.video_id == first.video_id
    outcome = "scenesearch_ingest_jobs_total"
    assert (
        value(after, outcome, outcome="duplicate")
        == value(before, outcome, outcome="duplicate") + 1
    )
    # No new frames: a duplicate is found by its hash before any decoding.
    frames = "scenesearch_ingest_frames_total"
    assert value(after, frames, stage="decoded") == value(before, frames, stage="decoded")


def test_servers_in_one_process_keep_their_own_registries() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()  # no "Duplicated timeseries"
    first.text_batch(3)
    assert first.registry.get_sample_value("scenesearch_text_batch_size_count") == 1
    assert second.registry.get_sample_value("scenesearch_text_batch_size_count") == 0


def test_metrics_port_flag_flows_from_scenesearch_serve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().metrics_port is None  # off unless asked for
    args = build_parser().parse_args(["serve", "--metrics-port", "9464"])
    assert settings_from_args(args).metrics_port == 9464
    assert settings_from_args(build_parser().parse_args(["serve"])).metrics_port is None
    monkeypatch.setenv("SCENESEARCH_METRICS_PORT", "0")
    assert settings_from_args(build_parser().parse_args(["serve"])).metrics_port == 0
    with pytest.raises(ValueError, match="metrics-port"):
        Settings(metrics_port=70000)


@pytest.mark.parametrize(
    ("address", "host"),
    [("127.0.0.1:0", "127.0.0.1"), ("[::1]:50051", "::1"), ("0.0.0.0:50051", "0.0.0.0")],
)
def test_metrics_bind_the_grpc_host(address: str, host: str) -> None:
    assert host_of(address) == host


def test_a_busy_metrics_port_is_refused_with_advice(metrics_server: RunningServer) -> None:
    assert metrics_server.metrics is not None
    taken = metrics_server.metrics.port
    with pytest.raises(OSError, match="pick another --metrics-port, or 0"):
        serve_metrics(PrometheusMetrics().registry, "127.0.0.1", taken)


def test_a_stream_the_client_cancels_counts_as_cancelled(
    metrics_server: RunningServer, api: SceneSearchClient, media_root: Path
) -> None:
    video = write_video(media_root / "metrics_cancelled.mp4", [1.4, 1.0], seed=1403)
    before = rpc_count(scrape(metrics_server), "IngestVideo", "CANCELLED", "server_stream")
    responses = api.stub.IngestVideo(pb.IngestVideoRequest(path=str(video.path)), timeout=60)
    next(responses)  # the stream is open and the job queued
    responses.cancel()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        counted = rpc_count(scrape(metrics_server), "IngestVideo", "CANCELLED", "server_stream")
        if counted == before + 1:
            break
        time.sleep(0.1)
    assert counted == before + 1
