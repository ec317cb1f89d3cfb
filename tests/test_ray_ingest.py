"""Distributed ingest on a real local Ray runtime (2 CPUs) into real servers.

One run of 6 generated videos and a corrupt file is compared with the same videos through
IngestVideo on a second server; another run has its decode worker killed mid-video. Ray's
listeners must all be on loopback, and no token file may be left in ~/.ray.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray  # the dev extra installs it; a missing Ray is a broken install, not a skip

from scenesearch.client.ray_ingest.plan import RayIngestConfig, RunSummary
from scenesearch.client.ray_ingest.runtime import ClusterShape, local_runtime
from scenesearch.client.remote import SceneSearchClient
from scenesearch.server.app import RunningServer, start_server
from scenesearch.server.storage.store import Store
from tests.conftest import make_settings
from tests.support.synthetic import WrittenVideo, write_video

pytestmark = pytest.mark.slow

TOKEN_FILE = Path.home() / ".ray" / "auth_token"
# Fractional CPUs: two whole-CPU actors beside a decode task deadlock a 2-CPU runtime.
SMALL = RayIngestConfig(embed_cpus=0.5, max_videos=2, chunk_frames=4)


@pytest.fixture(scope="module")
def runtime() -> Iterator[ClusterShape]:
    token_existed = TOKEN_FILE.exists()
    with local_runtime(num_cpus=2) as shape:
        yield shape
    assert not ray.is_initialized()
    if not token_existed:  # a local runtime keeps its token in memory only
        assert not TOKEN_FILE.exists()
        with_ray_dir = TOKEN_FILE.parent
        if with_ray_dir.is_dir() and not any(with_ray_dir.iterdir()):
            with_ray_dir.rmdir()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ray-media").resolve()


@pytest.fixture(scope="module")
def videos(media: Path) -> list[WrittenVideo]:
    scene_sets = ([1.2, 0.8, 1.5], [2.0, 1.0], [0.9, 0.9, 0.9, 0.9], [3.0], [1.0, 2.0], [1.5, 1.5])
    return [
        write_video(media / f"clip{i}.mp4", seconds, seed=20 + i, fps=25.0 if i % 2 else 30.0)
        for i, seconds in enumerate(scene_sets)
    ]


@pytest.fixture(scope="module")
def corrupt(media: Path) -> Path:
    path = media / "corrupt.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    return path


def _server(data: Path, model: Path, media: Path) -> Iterator[RunningServer]:
    running = start_server(make_settings(data, model, media))
    yield running
    running.stop(1.0)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, media: Path) -> Any:
    """The server the Ray runs import into."""
    yield from _server(tmp_path_factory.mktemp("ray-target"), tiny_model, media)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, media: Path) -> Any:
    """A second server that ingests the same videos locally, through IngestVideo."""
    yield from _server(tmp_path_factory.mktemp("ray-reference"), tiny_model, media)


def connect(server: RunningServer) -> SceneSearchClient:
    return SceneSearchClient(f"127.0.0.1:{server.port}", timeout_s=60.0)


@pytest.fixture(scope="module")
def first_run(
    runtime: ClusterShape, target: RunningServer, videos: list[WrittenVideo], corrupt: Path
) -> RunSummary:
    paths = [str(v.path) for v in videos[:3]] + [str(corrupt)] + [str(v.path) for v in videos[3:]]
    with connect(target) as client:
        return client_run(client, paths, SMALL)


def client_run(client: SceneSearchClient, paths: list[str], config: RayIngestConfig) -> RunSummary:
    from scenesearch.client.ray_ingest import ingest_on_ray

    return ingest_on_ray(paths, client, config)


def frames_of(server: RunningServer, video_id: int) -> tuple[np.ndarray, np.ndarray]:
    # Store.open would write to the live server's file; a read-only view binds by hand
    store = Store(server.data_dir / "scenesearch.db")
    store.dim = int(store.meta("dimension") or 0)
    store.vectors.bind(store.dim)
    matrix = store.frames_of_video(video_id)
    return matrix.times_s, matrix.vectors


# --- the run -------------------------------------------------------------------------------


def test_every_good_video_is_ingested_and_the_corrupt_one_fails_alone(
    first_run: RunSummary, videos: list[WrittenVideo], corrupt: Path, target: RunningServer
) -> None:
    by_path = {v.path: v for v in first_run.videos}
    failed = by_path[str(corrupt)]
    assert not failed.ok and "corrupt.mp4" in failed.error and "readable" in failed.error
    assert [v.path for v in first_run.failed] == [str(corrupt)]
    assert first_run.done == len(videos)
    with connect(target) as client:
        listed = client.list_videos()
    assert sorted(v.path for v in listed) == sorted(str(v.path) for v in videos)
    assert len({v.content_hash for v in listed}) == len(videos)
    assert all(v.status == "ready" for v in listed)


def test_results_equal_a_local_ingest(
    first_run: RunSummary,
    videos: list[WrittenVideo],
    target: RunningServer,
    reference: RunningServer,
) -> None:
    by_path = {v.path: v for v in first_run.videos}
    with connect(target) as remote, connect(reference) as local:
        for video in videos:
            mine = by_path[str(video.path)]
            theirs = local.ingest_path(str(video.path))
            got, want = remote.get_video(mine.video_id), local.get_video(theirs.video_id)
            spans = [(s.start_frame, s.end_frame, s.start_s, s.end_s) for s in got.scenes]
            assert spans == [(s.start_frame, s.end_frame, s.start_s, s.end_s) for s in want.scenes]
            assert [s.start_frame for s in got.scenes] == list(video.scene_start_frames)
            for field in ("frame_count", "sample_count", "duration_s", "fps", "width", "height"):
                assert getattr(got.video, field) == pytest.approx(getattr(want.video, field))
            times, vectors = frames_of(target, mine.video_id)
            ref_times, ref_vectors = frames_of(reference, theirs.video_id)
            np.testing.assert_array_equal(times, ref_times)
            cosine = np.sum(vectors * ref_vectors, axis=1)
            assert cosine.min() >= 0.999, cosine
            # Thumbnails came through the import: one per scene, no decode needed.
            for scene in got.scenes:
                assert remote.thumbnail(scene.id).jpeg[:2] == b"\xff\xd8"


def test_backpressure_held(first_run: RunSummary) -> None:
    plan = first_run.plan
    assert plan.actor_gpus == 0 and plan.device == "cpu"  # no GPU here: num_gpus=1 would hang
    assert first_run.peak_videos <= plan.max_videos == 2
    assert plan.queue_chunks == 8  # two batches of 16 in chunks of 4
    assert first_run.peak_queued_chunks <= plan.actors * plan.queue_chunks
    (actor,) = first_run.embed
    assert actor["frames"] == sum(v.samples for v in first_run.videos)


def test_ray_listens_on_loopback_only(runtime: ClusterShape) -> None:
    assert runtime.address.startswith("127.0.0.1:")
    # ss comes with iproute2, which .ci/run installs when a machine lacks it.
    result = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True)
    assert result.returncode == 0, f"ss -ltnp failed: {result.stderr}"
    mine = descendants(os.getpid())
    checked = 0
    for line in result.stdout.splitlines():
        pids = {int(p) for p in _pids(line)}
        if not pids & mine:
            continue
        local = line.split()[3]
        host = local.rsplit(":", 1)[0].strip("[]")
        assert host in ("127.0.0.1", "::ffff:127.0.0.1", "::1"), line
        checked += 1
    assert checked >= 3  # GCS, raylet and workers at least


def _pids(line: str) -> list[str]:
    return [part.split(",")[0] for part in line.split("pid=")[1:]]


def descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier += children
    return found


# --- faults --------------------------------------------------------------------------------


def processes_titled(prefix: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(prefix):
            found.append(int(entry.name))
    return found


def test_a_decode_worker_killed_mid_video_is_retried_without_duplicates(
    runtime: ClusterShape,
    first_run: RunSummary,
    target: RunningServer,
    media: Path,
    videos: list[WrittenVideo],
) -> None:
    long = [write_video(media / f"long{i}.mp4", [4.0, 4.0], seed=40 + i) for i in range(2)]
    # Small chunks and queues keep each decode task alive across many round trips.
    config = RayIngestConfig(
        embed_cpus=0.5,
        chunk_frames=2,
        chunks_ahead=1,
        chunks_per_actor=1,
        sample_interval_s=0.25,
        max_videos=2,
    )
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            pids = processes_titled("ray::decode_video")
            if pids:
                time.sleep(0.5)  # let it get well into the video
                for pid in processes_titled("ray::decode_video")[:1]:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    paths = [str(v.path) for v in long] + [str(videos[0].path)]  # the last is already there
    with connect(target) as client:
        summary = client_run(client, paths, config)
        thread.join()
        assert killed, "no decode worker was seen to kill"
        assert not summary.failed, summary.failed
        outcomes = {v.path: v for v in summary.videos}
        assert outcomes[str(videos[0].path)].already_ingested
        listed = client.list_videos()
        assert len(listed) == len({v.content_hash for v in listed}) == len(videos) + 2
        for written in long:
            detail = client.get_video(outcomes[str(written.path)].video_id)
            assert [s.start_frame for s in detail.scenes] == list(written.scene_start_frames)
            assert detail.video.sample_count == 32  # every 0.25 s over 8 s (4.0 s is a cut too)


def test_imports_survive_a_server_restart_mid_run(
    runtime: ClusterShape,
    tmp_path: Path,
    tiny_model: Path,
    media: Path,
) -> None:
    """The server stops after the first import and comes back on the same address a few
    seconds later: the imports in between retry with backoff, each video lands once."""
    written = [write_video(media / f"restart{i}.mp4", [1.0, 1.0], seed=60 + i) for i in range(4)]
    port = free_port()
    settings = make_settings(tmp_path / "data", tiny_model, media, address=f"127.0.0.1:{port}")
    servers = [start_server(settings)]
    restarted = threading.Event()

    def restart() -> None:
        with connect(servers[0]) as watcher:
            deadline = time.monotonic() + 60
            while not watcher.list_videos() and time.monotonic() < deadline:
                time.sleep(0.05)
        servers[0].stop(0.5)
        time.sleep(3.0)
        servers.append(start_server(settings))
        restarted.set()

    thread = threading.Thread(target=restart, daemon=True)
    thread.start()
    try:
        with connect(servers[0]) as client:
            summary = client_run(client, [str(v.path) for v in written], SMALL)
        thread.join(60)
        assert restarted.is_set()
        assert not summary.failed, summary.failed
        assert max(v.import_attempts for v in summary.videos) > 1  # some import had to retry
        with connect(servers[-1]) as client:
            listed = client.list_videos()
        assert sorted(v.path for v in listed) == sorted(str(v.path) for v in written)
        assert all(v.status == "ready" for v in listed)
    finally:
        for running in servers:
            running.stop(0.5)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_ray_ingest_prints_a_json_summary_with_failures(
    first_run: RunSummary,
    target: RunningServer,
    videos: list[WrittenVideo],
    corrupt: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from scenesearch.client.cli import main

    argv = [
        "--address",
        f"127.0.0.1:{target.port}",
        "ingest",
        "--ray",
        str(videos[1].path),
        str(corrupt),
        "--json",
    ]  # a path right after --ray is a path, not an address
    with pytest.raises(SystemExit) as code:
        main(argv)
    assert code.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["done"], report["failed"]) == (1, 1)
    assert report["videos"][0]["already_ingested"]
    assert "readable" in report["videos"][1]["error"]
