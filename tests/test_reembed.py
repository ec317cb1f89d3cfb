"""Moving a library to another model (issue 12, part 3): a real server, real videos, two tiny
random checkpoints of different families and dimensions (CLIP 64-d as OLD, SigLIP as NEW).

In process: searches answer from OLD during the move and say so, from NEW after the swap;
every video is present once with its ids and scenes; a video ingested and one deleted during
the move are reconciled; a gone source is listed and kept; concepts are retrained; a restart
with the old --model comes up on NEW; bad input gets its status. As a subprocess: a kill -9
half-way, a restart, the move resumes and ends with every video present exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from scenesearch.client.concepts import ConceptExamples
from scenesearch.client.remote import ClientError, QueryTerm, SceneSearchClient, SearchFilters
from scenesearch.server.app import start_server
from scenesearch.server.ingest.worker import FAULT_ENV
from tests.conftest import make_settings
from tests.support.launch import spawn_server
from tests.support.random_model import write_random_clip, write_random_model
from tests.support.synthetic import WrittenVideo, write_video
from tests.test_cli import SCRIPT


@pytest.fixture(scope="module")
def old_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_clip(tmp_path_factory.mktemp("old") / "clip-old", seed=11)


@pytest.fixture(scope="module")
def new_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_model(tmp_path_factory.mktemp("new") / "siglip-new", "siglip", seed=12)


def videos(root: Path, seed: int, count: int, prefix: str = "clip") -> list[WrittenVideo]:
    """Unique content per test (no dedup across the session's servers)."""
    root.mkdir(parents=True, exist_ok=True)
    return [
        write_video(root / f"{prefix}{i}.mp4", [1.0 + 0.1 * i, 0.8], seed=seed + i, fps=20.0)
        for i in range(count)
    ]


def wait_for(check: Callable[[], bool], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def scenes_of(client: SceneSearchClient, video_id: int) -> list[tuple[int, int, float, float]]:
    return [(s.id, s.index, s.start_s, s.end_s) for s in client.get_video(video_id).scenes]


@pytest.mark.slow  # about 40 s: two models, six ingests, a move, a restart
def test_move_keeps_serving_then_swaps(
    tmp_path: Path, old_model: Path, new_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = (tmp_path / "media").resolve()
    first = videos(media, 4200, 4)
    late = videos(media, 4300, 1, prefix="late")[0]
    settings = make_settings(tmp_path / "data", old_model, media)
    running = start_server(settings)
    try:
        with SceneSearchClient(f"127.0.0.1:{running.port}", timeout_s=120.0) as client:
            ids = [client.ingest_path(str(v.path)).video_id for v in first]
            before = {i: scenes_of(client, i) for i in ids}
            concept = client.save_concept(
                "first-scenes",
                ConceptExamples.of(scene_ids=[before[ids[0]][0][0], before[ids[1]][0][0]]),
                ConceptExamples.of(texts=["a dark room"]),
            )
            assert concept.model == str(old_model)
            gone = first[3].path.rename(media / "moved-away.bin")  # its source is gone
            # Bad input: each gets a specific status and a message saying what to do.
            for model, code in [
                (str(tmp_path / "no-such-model"), grpc.StatusCode.INVALID_ARGUMENT),
                (str(old_model), grpc.StatusCode.INVALID_ARGUMENT),
                (str(media), grpc.StatusCode.INVALID_ARGUMENT),  # a directory, no checkpoint
                ("nobody/no-such-model", grpc.StatusCode.INVALID_ARGUMENT),  # offline hub id
            ]:
                with pytest.raises(ClientError) as info:
                    client.reembed(model)
                assert info.value.code == code, info.value
            # A cancelled move leaves the library as it was and deletes its generation. (The
            # worker's test hook hangs on the first video, so the move is surely mid-way.)
            monkeypatch.setenv(FAULT_ENV, f"hang:{first[0].path.name}")
            client.reembed(str(new_model), follow=False)
            monkeypatch.delenv(FAULT_ENV)  # the next move's worker starts without it
            wait_for(lambda: client.reembed_status().current is not None)
            cancelled = client.cancel_reembed()
            assert cancelled.state == "cancelled" and cancelled.videos_done == 0
            assert not list((tmp_path / "data" / "generations").iterdir())
            assert client.search_text("x").generation == "0"
            started = client.reembed(str(new_model), "keep", follow=False)
            assert started.state == "building" and started.target_model == str(new_model)
            with pytest.raises(ClientError) as info:
                client.reembed(str(new_model))
            assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
            assert "--watch" in info.value.message
            # During the move: OLD answers, and says so (checked as still building after).
            during = client.search_text("a bright scene")
            assert client.reembed_status().state == "building"
            assert (during.model, during.generation) == (str(old_model), "0")
            assert client.timeline([ids[0]], ["a bright scene"])[0].model == str(old_model)
            assert during.hits
            # Writes during the move: one video ingested, one deleted; both reconciled.
            late_id = client.ingest_path(str(late.path)).video_id
            client.delete_video(ids[2])
            updates: list[str] = []
            final = client.watch_reembed(lambda s: updates.append(s.state))
            assert final.state == "done", final
            assert final.unavailable and final.unavailable[0].video_id == ids[3]
            assert final.unavailable[0].state == "kept"
            assert "no longer a file" in final.unavailable[0].reason
            assert final.concepts_retrained == ["first-scenes"]
            after = client.search_text("a bright scene")
            assert after.model == str(new_model)
            assert after.generation == final.target_generation != "0"
            listed = client.list_videos()
            assert sorted(v.id for v in listed) == sorted([ids[0], ids[1], ids[3], late_id])
            status = {v.id: v.status for v in listed}
            assert status[ids[3]] == "kept" and status[ids[0]] == status[late_id] == "ready"
            for video_id in (ids[0], ids[1]):
                assert scenes_of(client, video_id) == before[video_id]  # same ids and scenes
            found = {h.video_id for h in client.search_text("anything", top_k=50).hits}
            assert found == {ids[0], ids[1], late_id}  # the kept one has no NEW vectors
            assert client.stats().model == str(new_model)
            assert client.stats().generation == final.target_generation
            assert client.classify([ids[0]], ["a", "b"])[0].model == str(new_model)
            retrained = client.get_concept("first-scenes")
            assert retrained.info.model == str(new_model) and retrained.info.usable
            assert len(retrained.weights) == client.stats().dimension != 64  # NEW's dimension
            assert client.search_terms([QueryTerm(concept="first-scenes")]).hits
            # The kept video stays searchable on the old model, in the retained generation.
            kept = client.search_text("anything", filters=SearchFilters(generation="0"))
            assert (kept.model, kept.generation) == (str(old_model), "0")
            assert {h.video_id for h in kept.hits} == {ids[3]}
            for bad, code in [("7-nothing", grpc.StatusCode.NOT_FOUND)]:
                with pytest.raises(ClientError) as info:
                    client.search_text("x", filters=SearchFilters(generation=bad))
                assert info.value.code == code
            # The kept video's file comes back: ingesting it fills it in, under its id.
            again = client.ingest_path(str(gone.rename(media / "restored.mp4"))).video_id
            assert again == ids[3] and client.get_video(again).video.status == "ready"
            # New ingests go to the new generation, with ids never used before.
            fresh = videos(media, 4350, 1, prefix="fresh")[0]
            assert client.ingest_path(str(fresh.path)).video_id == late_id + 1
        running.stop(1.0)
        # A restart with the old --model (an unchanged command line) serves NEW.
        running = start_server(settings)
        with SceneSearchClient(f"127.0.0.1:{running.port}", timeout_s=60.0) as client:
            restarted = client.search_text("a bright scene")
            assert (restarted.model, restarted.generation) == (after.model, after.generation)
            assert client.reembed_status().state == "done"
            assert len(client.list_videos()) == 5
            assert {v.status for v in client.list_videos()} == {"ready"}
    finally:
        running.stop(1.0)


def serve_args(data: Path, model: Path, media: Path) -> list[str]:
    return [
        "--data-dir",
        str(data),
        "--model",
        str(model),
        "--media-root",
        str(media),
        "--address",
        "127.0.0.1:0",
        "--precision",
        "fp32",
        "--device",
        "cpu",
        "--stall-timeout",
        "300",
    ]


def cli(address: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [SCRIPT, "--address", address, *args, "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    parsed: dict[str, object] = json.loads(done.stdout)
    return parsed


@pytest.mark.slow  # about 60 s: three server processes
def test_kill_half_way_then_resume(
    tmp_path: Path, old_model: Path, new_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = (tmp_path / "media").resolve()
    clips = videos(media, 4400, 2)
    gone = write_video(media / "gone.mp4", [1.1, 0.7], seed=4411, fps=20.0)
    # Uploaded, so its source is the kept upload, named by its SHA-256: a test hook of the
    # worker hangs on that name, so the kill lands half-way for sure (after the others).
    stuck = write_video(tmp_path / "uploaded.mp4", [1.3, 0.9], seed=4410, fps=20.0)
    digest = hashlib.sha256(stuck.path.read_bytes()).hexdigest()
    args = serve_args(tmp_path / "data", old_model, media)
    monkeypatch.setenv(FAULT_ENV, f"hang:{digest[:16]}")
    proc, address = spawn_server(args)
    monkeypatch.delenv(FAULT_ENV)
    try:
        with SceneSearchClient(address, timeout_s=120.0) as client:
            ids = [client.ingest_path(str(v.path)).video_id for v in [*clips, gone]]
            ids.append(client.upload(stuck.path).video_id)
            before = {i: scenes_of(client, i) for i in ids}
        gone_id = ids[len(clips)]
        gone.path.unlink()
        started = cli(
            address, "reembed", "--model", str(new_model), "--missing", "drop", "--detach"
        )
        assert started["state"] == "building"
        with SceneSearchClient(address, timeout_s=60.0) as client:
            wait_for(lambda: client.reembed_status().videos_done == len(ids) - 1)
            assert client.search_text("a scene").model == str(old_model)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc, address = spawn_server(args)  # no hook now: the move resumes and finishes
        with SceneSearchClient(address, timeout_s=120.0) as client:
            final = client.watch_reembed()
            assert final.state == "done", final
            assert [(v.video_id, v.state) for v in final.unavailable] == [(gone_id, "dropped")]
            listed = [v.id for v in client.list_videos()]
            assert sorted(listed) == sorted(i for i in ids if i != gone_id)  # each exactly once
            for video_id in listed:
                assert scenes_of(client, video_id) == before[video_id]
            hits = client.search_text("a scene", top_k=50)
            assert hits.model == str(new_model)
            assert {h.video_id for h in hits.hits} == set(listed)
            assert len(hits.hits) == sum(len(before[v]) for v in listed)  # no scene twice
        shown = cli(address, "reembed", "--status")
        assert shown["state"] == "done" and shown["target_model"] == str(new_model)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
    assert not os.environ.get(FAULT_ENV)
