"""Search benchmark: every kind of query through the real server over gRPC, per index kind.

A synthetic library (clustered 512-d unit vectors, 100 scenes a video, `--frames` sampled
frames a scene) is written straight into a data dir; then, for each index kind, a server
process (random ViT-B/32, so text encoding has its real cost) is started on it, rebuilds its
index, and answers:

- text search (unfiltered), the text encoder's share of it, and the rest (text search minus
  the encoder). The encoder's time is the server's own (its Prometheus histogram of the model's
  embed_texts calls, read before and after each search), so both come from the same process
  and the same moment; an encoder timed in this process swings 10x against the server's on a
  shared 2-core machine (two OpenMP pools competing);
- scene search ("more like this"), unfiltered: the baseline of the ratios;
- scene search filtered to 1 video, to 1% of the videos, to 50% of the videos;
- scene search with a `min_score` just above its best match (so nothing matches);
- scene search with top_k = 1000 vs top_k = 10;
- recall@10 of the filtered searches against exact search over the filtered set.

Storage: bytes per scene and per frame on disk (SQLite `dbstat`: the table and its indexes),
for this library and for the same rows written with the old 4 KiB pages.

Usage: python -m bench.search [--scenes 100000] [--frames 3] [--kinds flat,hnsw,ivfpq,lsh]
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import re
import signal
import sqlite3
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.results_file import publish
from scenesearch.client.remote import SceneSearchClient, SearchResults
from scenesearch.server.storage.layout import PAGE_SIZE
from scenesearch.server.storage.schema import SCHEMA
from tests.support.launch import spawn_server
from tests.support.library import Library, build_library, exact_top
from tests.support.random_model import BENCH_WORDS, VIT_B_32, write_random_clip

SCENES_PER_VIDEO = 100
# The random ViT-B/32 tokenizer makes each of these one token, as CLIP's vocabulary does.
WORDS = BENCH_WORDS


METRICS_PORT = re.compile(r"metrics on port (\d+)")
ENCODER_SUM = re.compile(
    r'scenesearch_backend_seconds_sum\{backend="model",operation="embed_texts"\} (\S+)'
)


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    ms: list[float]
    recall: float | None = None

    def p(self, q: float) -> float:
        return float(np.percentile(self.ms, q)) if self.ms else float("nan")


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def storage(db: Path) -> dict[str, float]:
    """Bytes on disk per row of scenes and frames (table plus its indexes)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    sizes = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    scenes = conn.execute("SELECT COUNT(*) FROM scenes").fetchone()[0]
    frames = conn.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    scene_bytes = sizes.get("scenes", 0) + sizes.get("scenes_video", 0)
    frame_bytes = sum(sizes.get(n, 0) for n in ("frames", "frames_video", "frames_scene"))
    return {
        "page": page,
        "scene": scene_bytes / max(scenes, 1),
        "frame": frame_bytes / max(frames, 1),
        "file": db.stat().st_size / max(scenes + frames, 1),
    }


def old_layout_storage(directory: Path, frames: int) -> dict[str, float]:
    """The same kind of rows written with the previous release's 4 KiB pages (small sample)."""
    directory.mkdir(parents=True)
    db = directory / "scenesearch.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    conn.close()
    sample = directory / "sample"
    build_library(sample, 20, SCENES_PER_VIDEO, frames, seed=9)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("ATTACH DATABASE ? AS src", (str(sample / "scenesearch.db"),))
    for table in ("videos", "scenes", "frames"):
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
    conn.execute("DETACH DATABASE src")
    conn.close()
    return storage(db)


def run_kind(
    kind: str,
    data_dir: Path,
    model: Path,
    library: Library,
    n_queries: int,
    rng: np.random.Generator,
) -> tuple[list[Row], str]:
    """The rows measured, and the index's effective parameters (tuned ones included)."""
    started = time.perf_counter()
    log: list[str] = []
    proc, address = spawn_server(
        [
            *("--data-dir", str(data_dir), "--model", str(model)),
            *("--address", "127.0.0.1:0", "--index", kind, "--max-workers", "16"),
            *("--metrics-port", "0"),
        ],
        echo=log.append,
    )
    port = next(int(m.group(1)) for line in log if (m := METRICS_PORT.search(line)))
    print(f"{kind}: server up in {time.perf_counter() - started:.0f}s", flush=True)
    try:
        client = SceneSearchClient(address, timeout_s=600)
        while client.stats().warming:  # measure with the read copies of the vectors built
            time.sleep(0.5)
        stats = client.stats()
        params = ", ".join(f"{k} {v}" for k, v in sorted(stats.index_params.items()))
        index = f"Index parameters: {params or 'none'}." + (
            f" Note: {stats.index_note}." if stats.index_note else ""
        )
        print(f"{kind}: warm in {time.perf_counter() - started:.0f}s; {index}", flush=True)
        encoder = functools.partial(encoder_seconds, port)
        return measure(client, library, n_queries, rng, encoder), index
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def measure(
    client: SceneSearchClient,
    library: Library,
    n: int,
    rng: np.random.Generator,
    encoder_s: Callable[[], float],
) -> list[Row]:
    videos = np.unique(library.video_of)
    picks = rng.choice(len(library.scene_ids), size=n, replace=False)
    scene_ids = library.scene_ids[picks].tolist()
    for sid in scene_ids[:5]:  # warm-up (and the scene directory's first load)
        client.search_scene(sid, video_ids=[int(videos[0])])
        client.search_scene(sid)

    # Each text search with the server's own encoder time for it (one client: the only
    # encoder call between the two reads of the histogram is this search's).
    text_ms, encoder_ms = [], []
    for i in range(n):
        before = encoder_s()
        text_ms.append(timed(functools.partial(client.search_text, text(i))))
        encoder_ms.append((encoder_s() - before) * 1e3)
    rows = [
        Row("text search (unfiltered)", text_ms),
        Row("its text encoder time (in the server)", encoder_ms),
        Row("text search minus its text encoder time", list(np.subtract(text_ms, encoder_ms))),
    ]
    # The scene-search rows interleaved, query by query, in a random order each time, so each
    # ratio compares times taken seconds apart (in sequence, minutes apart, the machine's
    # drift would swamp them).
    shares = {"1 video": 0.0, "1% of videos": 0.01, "50% of videos": 0.5}
    choices = {
        name: [
            np.sort(rng.choice(videos, size=max(1, int(len(videos) * share)), replace=False))
            for _ in range(n)
        ]
        for name, share in shares.items()
    }
    best = [float(np.sort(library.vectors @ library.vectors[p])[-2]) for p in picks]
    names = [
        "scene search (unfiltered, top_k=10)",
        *(f"filtered to {name}" for name in shares),
        "min_score with no match",
        "top_k=1000 (unfiltered)",
    ]
    times: dict[str, list[float]] = {name: [] for name in names}
    results: dict[str, list[SearchResults]] = {name: [] for name in names}
    for i, sid in enumerate(scene_ids):
        calls: dict[str, Callable[[], SearchResults]] = {
            names[0]: functools.partial(client.search_scene, sid),
            **{
                f"filtered to {name}": functools.partial(
                    client.search_scene, sid, video_ids=choices[name][i].tolist()
                )
                for name in shares
            },
            "min_score with no match": functools.partial(
                client.search_scene, sid, min_score=best[i] + 0.01
            ),
            "top_k=1000 (unfiltered)": functools.partial(client.search_scene, sid, top_k=1000),
        }
        order = list(calls.items())
        rng.shuffle(order)  # no row always runs first (after a top_k=1000) or last
        for name, call in order:
            started = time.perf_counter()
            results[name].append(call())
            times[name].append((time.perf_counter() - started) * 1e3)
    assert not any(r.hits for r in results["min_score with no match"]), "min_score let hits by"
    everything = [videos] * n
    rows.append(
        Row(names[0], times[names[0]], recall(library, scene_ids, everything, results[names[0]]))
    )
    for name in shares:
        key = f"filtered to {name}"
        rows.append(Row(key, times[key], recall(library, scene_ids, choices[name], results[key])))
    rows += [Row(name, times[name]) for name in names[-2:]]
    return rows


def recall(
    library: Library,
    scene_ids: Sequence[int],
    choices: Sequence[np.ndarray],
    results: Sequence[SearchResults],
) -> float:
    position = {int(s): i for i, s in enumerate(library.scene_ids.tolist())}
    found = total = 0
    for sid, chosen, result in zip(scene_ids, choices, results, strict=True):
        allowed = np.isin(library.video_of, chosen) & (library.scene_ids != sid)
        truth = set(exact_top(library, library.vectors[position[sid]], 10, allowed).tolist())
        found += len(truth & {h.scene_id for h in result.hits})
        total += len(truth)
    return found / max(total, 1)


def encoder_seconds(port: int) -> float:
    """Seconds the server has spent in its text encoder so far (its own histogram)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as reply:
        page = reply.read().decode()
    match = ENCODER_SUM.search(page)
    return float(match.group(1)) if match else 0.0


def text(i: int) -> str:
    """A different text for every query: a repeated one would be answered from the server's
    memory of recent texts, without the encoder."""
    return " ".join(WORDS[(i + j) % len(WORDS)] for j in range(4)) + f" scene {i}"


def table(kind: str, rows: list[Row], index: str) -> list[str]:
    by_name = {row.name: row for row in rows}
    base = top10 = by_name["scene search (unfiltered, top_k=10)"].p(50)
    lines = [
        f"### {kind}",
        "",
        index,
        "",
        "| query | p50 ms | p95 ms | p50 vs unfiltered scene search | target | recall@10 |",
        "|---|---:|---:|---:|---|---:|",
    ]
    targets = {
        "filtered to 1 video": 2.0,
        "filtered to 1% of videos": 2.0,
        "filtered to 50% of videos": 2.0,
        "min_score with no match": 1.5,
        "top_k=1000 (unfiltered)": 10.0,
    }
    for row in rows:
        target = targets.get(row.name)
        ratio = row.p(50) / (top10 if row.name.startswith("top_k") else base)
        verdict = "" if target is None else f"≤ {target:g}x {'✓' if ratio <= target else '✗'}"
        rec = "" if row.recall is None else f"{row.recall:.3f}"
        lines.append(
            f"| {row.name} | {row.p(50):.1f} | {row.p(95):.1f} | {ratio:.2f}x | {verdict} | {rec} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=3, help="sampled frames per scene")
    parser.add_argument("--kinds", default="flat,hnsw,ivfpq,lsh")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("bench/results/search.md"))
    args = parser.parse_args()
    # A TERM ends the run through `finally`, so the server processes are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    rng = np.random.default_rng(0)
    videos = max(1, args.scenes // SCENES_PER_VIDEO)
    sections: list[str] = []
    started_all, load_before = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = write_random_clip(root / "model", VIT_B_32)
        started = time.perf_counter()
        data_dir = root / "data"
        library = build_library(
            data_dir, videos, SCENES_PER_VIDEO, args.frames, 512, model_id=str(model)
        )
        build_s = time.perf_counter() - started
        disk = storage(data_dir / "scenesearch.db")
        old = old_layout_storage(root / "old", args.frames)
        print(f"library: {len(library.scene_ids):,} scenes in {build_s:.0f}s; {disk}", flush=True)
        for kind in args.kinds.split(","):
            rows, index = run_kind(kind, data_dir, model, library, args.queries, rng)
            section = table(kind, rows, index)
            sections += section
            print("\n".join(section), flush=True)
    raw = 512 * 4
    lines = [
        "# Search benchmark",
        "",
        f"{len(library.scene_ids):,} scenes in {videos:,} videos ({SCENES_PER_VIDEO} scenes a "
        f"video, {args.frames} sampled frames a scene), 512-d clustered unit vectors, written "
        f"straight into a data dir. One client, through the real server over gRPC (random "
        f"ViT-B/32, the server's default runtime); {args.queries} queries a row; "
        f"scene queries start from random scenes. Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load_before:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end. Whole run {time.perf_counter() - started_all:.0f}s. "
        "Command: "
        f"`python -m bench.search --scenes {args.scenes} --frames {args.frames}`.",
        "",
        "Ratios are against the unfiltered scene search of the same kind (top_k=1000 against "
        "top_k=10). Recall@10 is against exact search over the filtered set (unfiltered row: "
        "over the whole library), the query scene itself excluded. Text encoder: the server's own "
        "time in its text encoder for each search (its `scenesearch_backend_seconds` histogram, "
        "read before and after); text search minus the encoder: percentiles of the per-search "
        "difference.",
        "",
        *sections,
        "## Storage",
        "",
        "| layout | page | bytes per scene | bytes per frame | file bytes per vector | vs raw |",
        "|---|---:|---:|---:|---:|---:|",
        f"| before (4 KiB pages; 2,000-scene sample) | {old['page']:,.0f} | {old['scene']:,.0f} "
        f"| {old['frame']:,.0f} | {old['file']:,.0f} | {old['file'] / raw:.2f}x |",
        f"| now ({PAGE_SIZE // 1024} KiB pages; this library) | {disk['page']:,.0f} | "
        f"{disk['scene']:,.0f} | {disk['frame']:,.0f} | {disk['file']:,.0f} | "
        f"{disk['file'] / raw:.2f}x |",
        "",
        "Raw float32 vector: 2,048 bytes. Bytes per scene/frame count the table and its "
        "indexes (`dbstat`); file bytes per vector is the whole file over scenes + frames.",
    ]
    publish("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
