"""Index kinds end to end: same videos, same image query, same top scene for every kind."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import grpc
import pytest

from scenesearch.client.remote import ClientError, SceneSearchClient
from scenesearch.server.app import start_server
from tests.conftest import make_settings
from tests.helpers import frame_png, ingest
from tests.support.launch import spawn_server
from tests.support.synthetic import WrittenVideo
from tests.test_cli import SCRIPT


@pytest.mark.slow
def test_every_kind_gives_the_same_top_scene_and_rebuild_keeps_serving(
    tmp_path: Path,
    tiny_model: Path,
    media_root: Path,
    three_scenes: WrittenVideo,
    two_scenes: WrittenVideo,
) -> None:
    running = start_server(make_settings(tmp_path / "data", tiny_model, media_root))
    try:
        with SceneSearchClient(f"127.0.0.1:{running.port}", timeout_s=60) as client:
            video_id = ingest(client, three_scenes.path)
            ingest(client, two_scenes.path)
            query = frame_png(three_scenes, 4.0)
            errors: list[BaseException] = []
            stop = threading.Event()

            def keep_searching() -> None:
                while not stop.is_set():
                    try:
                        assert client.search_image(query, top_k=3).hits
                    except BaseException as exc:
                        errors.append(exc)

            searcher = threading.Thread(target=keep_searching)
            searcher.start()
            tops = {}
            for kind, params in [
                ("hnsw", {"M": "8"}),
                ("lsh", {"nbits": "256"}),
                ("ivfpq", {}),
                ("flat", {}),
            ]:
                assert client.rebuild_index(kind, params)[:2] == (kind, 5)
                stats = client.stats()
                assert stats.index_kind == kind and stats.index_size == 5
                hits = client.search_image(query, top_k=3).hits
                assert all(h.index_kind == kind for h in hits)
                tops[kind] = (hits[0].video_id, hits[0].scene_index, round(hits[0].score, 4))
                if kind == "ivfpq":  # 5 vectors are far too few to train: exact fallback
                    assert "IVF-PQ needs at least" in stats.index_note
            stop.set()
            searcher.join()
            assert not errors
            assert set(tops.values()) == {(video_id, 2, tops["flat"][2])}
            with pytest.raises(ClientError) as info:
                client.rebuild_index("annoy")
            assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(ClientError) as info:
                client.rebuild_index("lsh", {"nbits": "lots"})
            assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        running.stop(1.0)


@pytest.mark.slow
def test_serve_with_lsh_from_the_command_line(
    tmp_path: Path, tiny_model: Path, media_root: Path, three_scenes: WrittenVideo
) -> None:
    server, address_port = spawn_server(
        [
            "--data-dir",
            str(tmp_path / "data"),
            "--model",
            str(tiny_model),
            "--media-root",
            str(media_root),
            "--address",
            "127.0.0.1:0",
            "--index",
            "lsh",
            "--lsh-nbits",
            "1024",
            "--lsh-rerank",
            "8",
            "--precision",
            "fp32",
        ],
        command=(SCRIPT, "serve"),  # the console script, as a user runs it
    )
    try:
        address = ["--address", address_port]
        subprocess.run(
            [SCRIPT, *address, "ingest", str(three_scenes.path)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        stats = json.loads(
            subprocess.run(
                [SCRIPT, *address, "stats", "--json"], check=True, capture_output=True, text=True
            ).stdout
        )
        assert stats["index_kind"] == "lsh"
        assert stats["index_params"] == {"nbits": "1024", "rerank": "8"}
        image = tmp_path / "q.png"
        image.write_bytes(frame_png(three_scenes, 1.0))
        hits = json.loads(
            subprocess.run(
                [SCRIPT, *address, "search", "--image", str(image), "--json"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )["hits"]
        assert hits[0]["scene_index"] == 0 and hits[0]["index_kind"] == "lsh"
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0
