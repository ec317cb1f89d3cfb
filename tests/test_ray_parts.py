"""The parts of distributed ingest that need no Ray runtime: the ImportVideo RPC's checks, the
import retry, pool sizing, cross-video batching in the embed actor, and the install hint."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from scenesearch.client.ray_ingest.driver import ImportFailed, import_with_retry
from scenesearch.client.ray_ingest.embed_actor import FrameBatcher
from scenesearch.client.ray_ingest.plan import RayIngestConfig, plan_for
from scenesearch.client.ray_ingest.runtime import ClusterShape
from scenesearch.client.ray_ingest.wire import Frame, Scene, VideoPayload, import_messages
from scenesearch.client.remote import ClientError, ImportedVideo, SceneSearchClient
from scenesearch.server.app import RunningServer


def test_the_embed_batcher_joins_chunks_of_different_videos() -> None:
    """While one batch runs, chunks from any video queue up and go together in the next."""
    release, encoding = threading.Event(), threading.Event()
    batches: list[int] = []

    def encode(images: Any) -> np.ndarray:
        encoding.set()
        release.wait(10)
        batches.append(len(images))
        return np.tile(np.array([[len(batches)]], np.float32), (len(images), 1))

    batcher = FrameBatcher(encode, max_batch=16)
    chunk = [np.zeros((2, 2, 3), np.uint8)] * 4
    results: dict[str, np.ndarray] = {}

    def submit(name: str) -> None:
        results[name] = batcher.encode(chunk)

    first = threading.Thread(target=submit, args=("a0",))
    first.start()
    assert encoding.wait(10)  # a0 is being encoded, alone
    others = [threading.Thread(target=submit, args=(n,)) for n in ("a1", "b0", "c0", "b1", "c1")]
    for t in others:
        t.start()
    deadline = time.monotonic() + 10
    while len(batcher._pending) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in [first, *others]:
        t.join(10)
    assert batches[:3] == [4, 16, 4]  # a0 alone; then a1, b0, c0, b1 up to 16; then c1
    assert batcher.largest == 16 and batcher.frames == 24
    assert {name: int(v[0, 0]) for name, v in results.items()}["a0"] == 1


def payload(content_hash: str = "ab" * 32, model: str = "m", dim: int = 8) -> VideoPayload:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return VideoPayload(
        path="/shared/x.mp4",
        content_hash=content_hash,
        model=model,
        duration_s=2.0,
        fps=30.0,
        width=64,
        height=48,
        frame_count=60,
        rotation=0,
        scenes=(Scene(0, 0, 30, 0.0, 1.0), Scene(1, 30, 60, 1.0, 2.0)),
        frames=(Frame(0, 0.0, 0), Frame(15, 0.5, 0), Frame(30, 1.0, 1)),
        vectors=vectors,
    )


def test_import_video_checks_the_model_and_deduplicates(
    server: RunningServer, tiny_model: Path
) -> None:
    with SceneSearchClient(f"127.0.0.1:{server.port}", timeout_s=60.0) as client:
        dim = client.stats().dimension
        with pytest.raises(ClientError) as wrong:
            client.import_video(import_messages(payload(model="other/model", dim=dim)))
        assert wrong.value.code == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(ClientError) as wrong_dim:
            client.import_video(import_messages(payload(model=str(tiny_model), dim=dim + 1)))
        assert wrong_dim.value.code == grpc.StatusCode.FAILED_PRECONDITION
        good = payload("cd" * 32, str(tiny_model), dim)
        broken = import_messages(good)
        broken[1].chunk.scenes[1].start_frame = 31  # a gap between the scenes
        with pytest.raises(ClientError) as bad:
            client.import_video(broken)
        assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
        first = client.import_video(import_messages(good, chunk_bytes=64))  # many chunks
        again = client.import_video(import_messages(good))
        assert not first.already_ingested and (first.scene_count, first.sample_count) == (2, 3)
        assert again.already_ingested and again.video_id == first.video_id
        client.delete_video(first.video_id)


class FlakyClient:
    def __init__(self, codes: list[grpc.StatusCode]) -> None:
        self.codes, self.calls = codes, 0

    def import_video(self, messages: Any, timeout_s: float | None = None) -> ImportedVideo:
        self.calls += 1
        if self.codes:
            raise ClientError(self.codes.pop(0), "server restarting")
        return ImportedVideo(7, False, 2, 3)


def test_imports_retry_with_backoff_while_the_server_restarts() -> None:
    slept: list[float] = []
    flaky = FlakyClient([grpc.StatusCode.UNAVAILABLE] * 3)
    done, attempts = import_with_retry(flaky, payload(), 60.0, 5.0, slept.append)  # type: ignore[arg-type]
    assert (done.video_id, attempts) == (7, 4) and slept == [0.5, 1.0, 2.0]
    with pytest.raises(ImportFailed):
        import_with_retry(FlakyClient([grpc.StatusCode.INVALID_ARGUMENT]), payload(), 60.0, 5.0)  # type: ignore[arg-type]


def test_the_pools_follow_the_cluster() -> None:
    gpus = plan_for(ClusterShape(32.0, 4, 4, "h:1", False), RayIngestConfig())
    assert (gpus.actors, gpus.actor_gpus, gpus.device, gpus.batch) == (4, 1.0, "cuda", 64)
    assert gpus.decoders == int((32 - 4 - 0.25) // 1)
    cpus = plan_for(ClusterShape(2.0, 0, 1, "h:1", True), RayIngestConfig())
    assert (cpus.actors, cpus.actor_gpus, cpus.device, cpus.actor_cpus) == (1, 0.0, "cpu", 0.5)
    assert cpus.decoders == 1 and cpus.max_videos == 2
    with pytest.raises(ValueError, match="no room"):
        plan_for(
            ClusterShape(2.0, 0, 1, "h:1", True), RayIngestConfig(embed_actors=2, embed_cpus=1)
        )


def test_ray_flag_without_ray_says_how_to_install_it(tmp_path: Path) -> None:
    code = f"""
import importlib.abc, sys
class NoRay(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ray":
            raise ModuleNotFoundError("No module named 'ray'", name="ray")
sys.meta_path.insert(0, NoRay())
from scenesearch.client.cli import main
main(["--address", "127.0.0.1:1", "ingest", "--ray", "auto", {str(tmp_path)!r}])
"""
    (tmp_path / "a.mp4").write_bytes(b"x")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "pip install 'scenesearch[ray]'" in result.stderr
