"""Backends benchmark: FAISS (embedded) vs Milvus, through the real server, in one run.

One synthetic library (bench/search.py's builder: clustered 512-d unit vectors, 100 scenes a
video, `--frames` sampled frames a scene) is written into a data dir and copied; a server
with `--backend faiss` serves one copy, a server with `--backend milvus` the other, against a
real Milvus 2.3 (the `milvus` extra's server, started here on loopback: see
server/index/milvus_local.py), both with the same `--index` kind. Each answers:

- scene search ("more like this"), unfiltered, top_k=10, with recall@10 against exact search;
- scene search filtered to 1 video;
- text search (random ViT-B/32 text encoder: the same cost on both backends);

then commits `--import-videos` new videos through ImportVideo (the commit path an ingest takes
after decode and embed: reserve, one catalog transaction, the vector store, the index), and
reports the server process' resident memory (and Milvus' own, which the faiss backend does
not need).

Usage: python -m bench.backends [--scenes 100000] [--frames 2] [--kind hnsw]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import platform
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.results_file import publish
from bench.search import SCENES_PER_VIDEO, Row, recall, text, timed
from scenesearch.client.ray_ingest.wire import Frame, Scene, VideoPayload, import_messages
from scenesearch.client.remote import SceneSearchClient, SearchResults
from scenesearch.server.index.milvus_local import LocalMilvus, start_local_milvus
from scenesearch.server.vector_maths import normalise
from tests.support.launch import spawn_server
from tests.support.library import Library, build_library
from tests.support.random_model import VIT_B_32, write_random_clip


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MiB of a process, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def payload(i: int, model: str, frames: int, rng: np.random.Generator) -> list:
    scenes = tuple(
        Scene(s, s * 30, (s + 1) * 30, float(s), float(s + 1)) for s in range(SCENES_PER_VIDEO)
    )
    sampled = tuple(
        Frame(s * 30 + f * 10, s + f / frames, s)
        for s in range(SCENES_PER_VIDEO)
        for f in range(frames)
    )
    vectors = normalise(rng.normal(size=(len(sampled), 512)).astype(np.float32))
    video = VideoPayload(
        path=f"/bench/import-{i}.mp4",
        content_hash=hashlib.sha256(f"bench-import-{i}-{rng.random()}".encode()).hexdigest(),
        model=model,
        duration_s=float(SCENES_PER_VIDEO),
        fps=30.0,
        width=640,
        height=360,
        frame_count=SCENES_PER_VIDEO * 30,
        rotation=0,
        scenes=scenes,
        frames=sampled,
        vectors=vectors,
    )
    return import_messages(video)


def run_backend(
    name: str,
    args: list[str],
    library: Library,
    n: int,
    imports: int,
    frames: int,
    model: Path,
    rng: np.random.Generator,
) -> dict[str, object]:
    started = time.perf_counter()
    proc, address = spawn_server(args)
    up_s = time.perf_counter() - started
    print(f"{name}: server up in {up_s:.0f}s", flush=True)
    try:
        client = SceneSearchClient(address, timeout_s=600)
        videos = np.unique(library.video_of)
        picks = rng.choice(len(library.scene_ids), size=n, replace=False)
        scene_ids = library.scene_ids[picks].tolist()
        one_video = [int(library.video_of[p]) for p in rng.choice(len(library.scene_ids), n)]
        for sid in scene_ids[:5]:  # warm-up (and the scene directory's first load)
            client.search_scene(sid, video_ids=[int(videos[0])])
            client.search_scene(sid)
            client.search_text(text(sid))

        def series(call: Callable[[int, int], object]) -> list[float]:
            return [timed(functools.partial(call, i, sid)) for i, sid in enumerate(scene_ids)]

        unfiltered: list[SearchResults] = []
        rows = [
            Row(
                "scene search (unfiltered, top_k=10)",
                series(lambda i, s: unfiltered.append(client.search_scene(s))),
            ),
            Row(
                "scene search filtered to 1 video",
                series(lambda i, s: client.search_scene(s, video_ids=[one_video[i]])),
            ),
            Row("text search (unfiltered)", series(lambda i, s: client.search_text(text(i)))),
        ]
        rows[0] = Row(
            rows[0].name, rows[0].ms, recall(library, scene_ids, [videos] * n, unfiltered)
        )
        rss = rss_mb(proc.pid)
        messages = [payload(i, str(model), frames, rng) for i in range(imports)]
        started = time.perf_counter()
        for batch in messages:
            client.import_video(batch)
        commit_s = time.perf_counter() - started
        return {
            "rows": rows,
            "up_s": up_s,
            "rss": rss,
            "rss_after": rss_mb(proc.pid),
            "videos_per_s": imports / commit_s,
            "scenes_per_s": imports * SCENES_PER_VIDEO / commit_s,
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def raw_milvus_ms(uri: str, library: Library, n: int, rng: np.random.Generator) -> list[float]:
    """The scene collection searched straight through pymilvus (top 10, same HNSW settings
    as the server's default, which other kinds ignore): Milvus' own share of a scene search."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri)
    (name,) = [c for c in client.list_collections() if c.endswith("_scenes")]
    picks = rng.choice(len(library.scene_ids), size=n, replace=False)
    params = {"metric_type": "IP", "params": {"ef": 128}}

    def one(p: int) -> None:
        client.search(name, [library.vectors[p].tolist()], limit=10, search_params=params)

    for p in picks[:5]:
        one(int(p))
    return [timed(functools.partial(one, int(p))) for p in picks]


def copy_data_dir(source: Path, target: Path) -> None:
    with sqlite3.connect(source / "scenesearch.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    target.mkdir(parents=True)
    shutil.copy(source / "scenesearch.db", target / "scenesearch.db")


def section(name: str, result: dict[str, object]) -> list[str]:
    rows = result["rows"]
    assert isinstance(rows, list)
    rss, after = result["rss"], result["rss_after"]
    assert isinstance(rss, tuple) and isinstance(after, tuple)
    lines = [
        f"### {name}",
        "",
        "| query | p50 ms | p95 ms | recall@10 |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        rec = "" if row.recall is None else f"{row.recall:.3f}"
        lines.append(f"| {row.name} | {row.p(50):.2f} | {row.p(95):.2f} | {rec} |")
    lines += [
        "",
        f"- start-up (open, index load or build): {result['up_s']:.0f} s",
        f"- commit through ImportVideo: {result['videos_per_s']:.2f} videos/s "
        f"({result['scenes_per_s']:,.0f} scenes/s)",
        f"- server process RSS after the searches: {rss[0]:,.0f} MiB (peak {rss[1]:,.0f}); "
        f"after the imports: {after[0]:,.0f} MiB",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=2, help="sampled frames per scene")
    parser.add_argument("--kind", default="hnsw")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--import-videos", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("bench/results/backends.md"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    rng = np.random.default_rng(0)
    videos = max(1, args.scenes // SCENES_PER_VIDEO)
    started_all = time.perf_counter()
    sections: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = write_random_clip(root / "model", VIT_B_32)
        started = time.perf_counter()
        library = build_library(
            root / "faiss", videos, SCENES_PER_VIDEO, args.frames, 512, model_id=str(model)
        )
        copy_data_dir(root / "faiss", root / "milvus")
        print(f"library: {len(library.scene_ids):,} scenes in {time.perf_counter() - started:.0f}s")
        milvus: LocalMilvus = start_local_milvus(root / "milvus-server")
        try:
            common = [
                *("--model", str(model), "--address", "127.0.0.1:0", "--index", args.kind),
                *("--runtime", "torch", "--max-workers", "16"),
            ]
            backends = {
                "faiss": ["--data-dir", str(root / "faiss"), *common],
                "milvus": [
                    *("--data-dir", str(root / "milvus"), *common),
                    *("--backend", "milvus", "--milvus-uri", milvus.uri),
                ],
            }
            results: dict[str, dict[str, object]] = {}
            for name, flags in backends.items():
                result = run_backend(
                    name, flags, library, args.queries, args.import_videos, args.frames, model, rng
                )
                results[name] = result
                sections += section(name, result)
                print("\n".join(sections[-12:]), flush=True)
            raw = Row(
                f"Milvus alone: {args.kind} top 10 via pymilvus",
                raw_milvus_ms(milvus.uri, library, args.queries, rng),
            )
            milvus_rss = rss_mb(milvus.pid)
        finally:
            milvus.stop()
    lines = [
        "# Backends benchmark: FAISS vs Milvus",
        "",
        f"{len(library.scene_ids):,} scenes in {videos:,} videos ({SCENES_PER_VIDEO} scenes a "
        f"video, {args.frames} sampled frames a scene), 512-d clustered unit vectors; "
        f"`--index {args.kind}` on both backends; {args.queries} queries a row, one client, "
        f"through the real server over gRPC. Milvus: the embedded Milvus 2.3.5 server on this "
        f"machine (standalone, one query node), reached over loopback through the forwarder "
        f"into its network namespace. Machine: {platform.machine()}, 2 cores shared with other "
        f"work. Whole run {time.perf_counter() - started_all:.0f}s. Command: "
        f"`python -m bench.backends --scenes {args.scenes} --frames {args.frames} "
        f"--kind {args.kind}`.",
        "",
        *sections,
        f"Milvus server process RSS at the end: {milvus_rss[0]:,.0f} MiB "
        f"(peak {milvus_rss[1]:,.0f} MiB). {raw.name}: p50 {raw.p(50):.2f} ms, "
        f"p95 {raw.p(95):.2f} ms.",
        "",
        # the sizing assumes HNSW segments (bench/results/backends.md is an HNSW run)
        *(
            paper_model(results["milvus"], raw, len(library.scene_ids), args.frames)
            if args.kind == "hnsw"
            else []
        ),
    ]
    publish("\n".join(lines), args.out)


# The archive of the issue: 100,000 hours, about 70M scenes and 360M sampled frames (1 fps).
ARCHIVE_SCENES, ARCHIVE_FRAMES, DIM = 70e6, 360e6, 512
NODE_SEGMENT_GB = 64.0  # memory a query node gives loaded segments (a 128 GB machine)
HNSW_M = 32  # the hnsw kind's default
SEGMENT_MB = 512  # Milvus 2.3's default sealed segment size
NODE_CORES = 16
# One HNSW search (M=32, efSearch=128) over 100k and 1M vectors in process, on this machine:
# bench/results/index.md. Milvus' HNSW (knowhere, hnswlib) is the same algorithm.
SEGMENT_SEARCH_MS = {100_000: 1.27, 1_000_000: 1.40}


def paper_model(milvus: dict[str, object], raw: Row, scenes: int, frames: int) -> list[str]:
    """Sizing for the 70M-scene archive from the measured figures; the arithmetic is shown."""
    rows = milvus["rows"]
    assert isinstance(rows, list)
    server_ms, filtered_ms = rows[0].p(50), rows[1].p(50)
    raw_ms = raw.p(50)
    overhead_ms = server_ms - raw_ms
    segment_ms = SEGMENT_SEARCH_MS[100_000]
    fixed_ms = max(raw_ms - segment_ms, 0.0)
    vector_b = DIM * 4
    per_scene_b = vector_b + 2 * HNSW_M * 4 + 64  # vector + level-0 links + bookkeeping
    scene_gb = ARCHIVE_SCENES * per_scene_b / 1e9
    frame_gb = ARCHIVE_FRAMES * (vector_b + 40) / 1e9
    per_node = NODE_SEGMENT_GB * 1e9 / per_scene_b
    nodes = int(np.ceil(ARCHIVE_SCENES / per_node))
    held = ARCHIVE_SCENES / nodes
    lines = [
        "## Paper model: the 70M-scene archive",
        "",
        f"Measured here ({scenes:,} scenes, one Milvus segment, one query node): Milvus alone "
        f"answers an HNSW top-10 in {raw_ms:.2f} ms p50 through pymilvus; a scene search "
        f"through the scenesearch server takes {server_ms:.2f} ms p50 ({filtered_ms:.2f} ms "
        f"filtered to one video). The difference, {overhead_ms:.2f} ms, is the server's own "
        "share: the query scene's vector, the search, and the matched scenes' frames for the "
        "best moment are three Milvus calls, plus their (de)serialisation in pymilvus and the "
        f"catalog reads. One HNSW search over 100k vectors costs {segment_ms} ms in process "
        f"(bench/results/index.md, efSearch 128), so about {raw_ms:.2f} - {segment_ms} = "
        f"{fixed_ms:.1f} ms of Milvus' figure is its request path (proxy, scheduling, "
        "loopback forwarder, pymilvus), paid once per query whatever the size.",
        "",
        "Memory of the scene collection (HNSW, M = 32, float32):",
        f"- per scene: {vector_b:,} B vector + 2·M·4 = {2 * HNSW_M * 4} B of level-0 links + "
        f"~64 B bookkeeping = {per_scene_b:,} B (FAISS' HNSW measures 2,328 B: "
        "bench/results/index.md)",
        f"- 70M scenes x {per_scene_b:,} B = **{scene_gb:,.0f} GB**",
        f"- frames (never ANN-searched; read by video/scene id): 360M x ({vector_b:,} + 40) B "
        f"= **{frame_gb:,.0f} GB**: keep the frame collection memory-mapped on local NVMe "
        "(Milvus 2.3 `queryNode.mmap`), since a read touches one video's few hundred rows.",
        "",
        "Scenes per query node and latency:",
        f"- a node giving {NODE_SEGMENT_GB:.0f} GB to segments holds {NODE_SEGMENT_GB:.0f} GB / "
        f"{per_scene_b:,} B = **{per_node / 1e6:,.1f}M scenes**; 70M needs "
        f"ceil(70M / {per_node / 1e6:,.1f}M) = **{nodes} query nodes** per replica "
        f"({held / 1e6:,.1f}M scenes each)",
    ]
    for segment_mb in (SEGMENT_MB, 4 * SEGMENT_MB):
        per_segment = segment_mb * 1e6 / per_scene_b
        segments = int(np.ceil(held / per_segment))
        waves = int(np.ceil(segments / NODE_CORES))
        cost = SEGMENT_SEARCH_MS[100_000 if per_segment < 500_000 else 1_000_000]
        node_ms = fixed_ms + waves * cost
        lines.append(
            f"- {segment_mb:,} MB segments ({per_segment:,.0f} scenes each): a node searches "
            f"{segments} segments on {NODE_CORES} cores, {waves} rounds of ~{cost} ms: Milvus "
            f"answers in about {fixed_ms:.1f} + {waves} x {cost} = **{node_ms:.1f} ms** (the "
            f"proxy merges the {nodes} nodes' top-k, searched in parallel); through "
            f"scenesearch about {node_ms:.1f} + {overhead_ms:.1f} = "
            f"**{node_ms + overhead_ms:.0f} ms** p50 for a scene search"
            + (" (`dataCoord.segment.maxSize: 2048`)" if segment_mb != SEGMENT_MB else "")
        )
    replica_qps = 1000 / max(overhead_ms, 1e-3)
    lines += [
        "- a text search adds the text encoder (the text search rows above minus the scene "
        "search: tens of ms on this shared 2-core CPU with ViT-B/32, a few ms on a GPU).",
        "",
        "Per search replica (stateless scenesearch servers over the same Milvus):",
        f"- the server's share of a scene search is {overhead_ms:.1f} ms here, mostly CPU "
        f"(pymilvus decoding, numpy, gRPC), so one core serves about 1000 / "
        f"{overhead_ms:.1f} = **{replica_qps:,.0f} scene searches/s**; a {NODE_CORES}-core "
        f"replica about {replica_qps * NODE_CORES * 0.5:,.0f}/s at 50% load. Text search is "
        "bound by the text encoder: size replicas by encoder throughput (batched on a GPU).",
        f"- Milvus throughput scales by replicas of the collection (`replica_number`): each "
        f"is another {nodes} query nodes and multiplies queries/s, not the scenes held.",
        "",
        "Not measured: a multi-node Milvus (this is one standalone process on a shared 2-core "
        "machine; the 1M-scene run did not fit this session), and IVF-PQ at this scale; both "
        "are what a deployment should benchmark before buying memory.",
        "",
    ]
    return lines


if __name__ == "__main__":
    main()
