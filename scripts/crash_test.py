"""Crash-safety trials: SIGKILL the server at random moments during ingests and deletions.

After every kill the server is restarted on the same data dir and checked:
  - every video reported done (and not reported deleted) is present, with identical scenes,
    and search restricted to those videos returns identical hits and scores;
  - no partial video is visible: every listed video is ready, with its scenes and frames;
  - SQLite and the FAISS index agree (index size == scene count);
  - no job is left queued or running.
With --backend milvus (a real Milvus on loopback, server/index/milvus_local.py) also:
  - Milvus holds exactly the catalog's scenes: none of a video that is not ready or deleted.

Usage: python -m scripts.crash_test [--trials 20] [--seed 0] [--backend faiss|milvus]
"""

from __future__ import annotations

import argparse
import io
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from PIL import Image

from scenesearch.client.remote import ClientError, SceneSearchClient
from tests.support.launch import spawn_server
from tests.support.random_model import write_random_clip
from tests.support.synthetic import scene_palette, write_video


def start(
    data: Path, media: Path, model: Path, extra: list[str]
) -> tuple[subprocess.Popen[str], str]:
    return spawn_server(
        [
            *extra,
            "--data-dir",
            str(data),
            "--media-root",
            str(media),
            "--model",
            str(model),
            "--address",
            "127.0.0.1:0",
            "--precision",
            "fp32",
        ]
    )


def query_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(scene_palette(3, 160, 120)).save(buf, format="PNG")
    return buf.getvalue()


def snapshot(client: SceneSearchClient, ids: set[int]) -> list[tuple[int, float]]:
    if not ids:
        return []
    hits = client.search_image(query_png(), top_k=200, video_ids=sorted(ids)).hits
    return [(h.scene_id, round(h.score, 5)) for h in hits]


def check(
    client: SceneSearchClient,
    data: Path,
    done: dict[int, list | None],
    deleted: set[int],
    expected: list[tuple[int, float]] | None,
    in_flight: set[int],
    milvus_uri: str = "",
) -> list[str]:
    """`in_flight`: videos whose deletion was requested but not acknowledged before the
    kill: either outcome is right, the video whole or gone."""
    problems = []
    videos = {v.id: v for v in client.list_videos()}
    for vid in [v for v in in_flight if v not in videos]:  # the delete landed before the kill
        done.pop(vid, None)
        deleted.add(vid)
    in_flight.clear()
    for vid, scenes in done.items():
        if vid not in videos:
            problems.append(f"video {vid} was reported done but is missing")
            continue
        got = [(s.id, s.start_s, s.end_s) for s in client.get_video(vid).scenes]
        if scenes is not None and got != scenes:
            problems.append(f"video {vid} scenes changed")
    problems += [f"deleted video {v} is back" for v in deleted if v in videos]
    total_scenes = total_samples = 0
    for v in videos.values():
        scenes = client.get_video(v.id).scenes
        if v.status != "ready" or not scenes or len(scenes) != v.scene_count:
            problems.append(f"video {v.id} is partial ({v.status}, {len(scenes)} scenes)")
        total_scenes += len(scenes)
        total_samples += v.sample_count
    stats = client.stats()
    if stats.index_size != stats.scene_count or stats.scene_count != total_scenes:
        problems.append(f"index has {stats.index_size} vectors, SQLite {stats.scene_count}")
    if stats.frame_count != total_samples:
        problems.append("frame rows do not match the videos' sample counts")
    if expected is not None and snapshot(client, set(done)) != expected:
        problems.append("search results over the done videos changed")
    with sqlite3.connect(data / "scenesearch.db") as db:
        stuck = db.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
        if (n := stuck.fetchone()[0]) > 0:
            problems.append(f"{n} job(s) left queued or running")
        catalog = {r[0] for r in db.execute("SELECT id FROM scenes")}
        store_id = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
    if milvus_uri:
        problems += milvus_problems(milvus_uri, f"scenesearch_{store_id}_scenes", catalog)
    return problems


def milvus_problems(uri: str, collection: str, catalog: set[int]) -> list[str]:
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri)
    if not client.has_collection(collection):
        return [] if not catalog else [f"Milvus collection {collection} is missing"]
    rows = client.query(
        collection, filter="id >= 0", output_fields=["id"], consistency_level="Strong"
    )
    held = {int(r["id"]) for r in rows}
    client.close()
    problems = []
    if held - catalog:
        problems.append(f"Milvus holds {len(held - catalog)} scenes the catalog does not show")
    if catalog - held:
        problems.append(f"{len(catalog - held)} catalog scenes have no vector in Milvus")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=("faiss", "milvus"), default="faiss")
    args = parser.parse_args()
    # A TERM ends the run through `finally`, so the Milvus it started is stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        extra: list[str] = []
        milvus = None
        if args.backend == "milvus":
            from scenesearch.server.index.milvus_local import start_local_milvus

            milvus = start_local_milvus(root / "milvus")
            extra = ["--backend", "milvus", "--milvus-uri", milvus.uri]
        try:
            return trials(args.trials, rng, root, extra, milvus.uri if milvus else "")
        finally:
            if milvus is not None:
                milvus.stop()


def trials(count: int, rng: random.Random, root: Path, extra: list[str], milvus_uri: str) -> int:
    model = write_random_clip(root / "model")
    media, data = root / "media", root / "data"
    files = [
        write_video(media / f"v{i}.mp4", [rng.uniform(1, 3) for _ in range(3)], seed=i).path
        for i in range(12)
    ]
    done: dict[int, list | None] = {}
    deleted: set[int] = set()
    in_flight: set[int] = set()
    action, kill_after = "", 0.0
    passed = 0
    state: dict[str, list[tuple[int, float]] | None] = {"expected": []}
    for trial in range(1, count + 2):
        proc, address = start(data, media, model, extra)
        client = SceneSearchClient(address, timeout_s=60)
        # Checked against what clients were told before the previous kill.
        problems = check(client, data, done, deleted, state["expected"], in_flight, milvus_uri)
        if trial > 1:
            status = "ok" if not problems else "FAILED: " + "; ".join(problems)
            passed += not problems
            print(
                f"trial {trial - 1:2d}: {action} killed after {kill_after:.2f}s, "
                f"{len(done)} videos reported done -> {status}",
                flush=True,
            )
        if trial > count:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            break
        action = "ingest" if not done or rng.random() < 0.65 else "delete"
        kill_after = rng.uniform(0.05, 2.5)

        def act(action: str = action, client: SceneSearchClient = client) -> None:
            try:
                if action == "ingest":
                    final = client.ingest_path(str(rng.choice(files)))
                    done[final.video_id] = None  # reported done: must survive the kill
                    scenes = client.get_video(final.video_id).scenes
                    done[final.video_id] = [(s.id, s.start_s, s.end_s) for s in scenes]
                else:
                    victim = rng.choice(sorted(done))
                    in_flight.add(victim)
                    client.delete_video(victim)
                    in_flight.discard(victim)
                    done.pop(victim)
                    deleted.add(victim)
                state["expected"] = snapshot(client, set(done))
            except ClientError:
                state["expected"] = None  # killed before the snapshot: skip that check

        worker = threading.Thread(target=act)
        worker.start()
        worker.join(kill_after)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        worker.join()
        client.close()

    print(f"\n{passed}/{count} trials passed")
    return 0 if passed == count else 1


if __name__ == "__main__":
    sys.exit(main())
