"""Index benchmark: build time, memory, latency, throughput and recall@10 for every kind.

Synthetic CLIP-like data: unit-norm 512-d vectors drawn around a few thousand cluster centres.
Every kind is built and queried in the same run, so ratios are side by side. Re-ranking kinds
(lsh, ivfpq) read exact vectors from an in-memory array here; `--sqlite-rerank` also measures
them reading from SQLite, as the server does.

Usage: python -m bench.index [--sizes 100000 1000000] [--out bench/results/index.md]
"""

from __future__ import annotations

import argparse
import functools
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from bench.results_file import publish
from scenesearch.server.domain import Vectors
from scenesearch.server.index import create_index
from scenesearch.server.index.base import Ids, VectorIndex, VectorLookup
from scenesearch.server.index.ivfpq import IvfPqIndex
from scenesearch.server.storage.store import Store
from scenesearch.server.vector_maths import normalise

DIM = 512
# (kind, build parameters, search-time variants measured on the same built index)
CONFIGS: list[tuple[str, dict[str, str], list[dict[str, str]]]] = [
    ("flat", {}, [{}]),
    ("hnsw", {"M": "32", "efConstruction": "80"}, [{"efSearch": "64"}, {"efSearch": "128"}]),
    (
        "ivfpq",
        {"m": "64"},
        [
            {"nprobe": "16", "rerank": "4"},
            {"nprobe": "32", "rerank": "10"},
            {"nprobe": "128", "rerank": "10"},
        ],
    ),
    ("lsh", {"nbits": "512"}, [{"rerank": "0"}, {"rerank": "10"}, {"rerank": "20"}]),
    ("lsh", {"nbits": "1024"}, [{"rerank": "10"}]),
]


def clip_like(n: int, centres: int, seed: int, latent: int = 32) -> Vectors:
    """Unit vectors near `centres` cluster centres, varying along a low-dimensional subspace.

    Real CLIP embeddings have a low intrinsic dimension; isotropic 512-d noise would make every
    neighbour a near-tie and measure nothing but noise.
    """
    rng = np.random.default_rng(0)  # centres and subspace shared by data and queries
    means = normalise(rng.normal(size=(centres, DIM)).astype(np.float32))
    basis = normalise(rng.normal(size=(latent, DIM)).astype(np.float32))
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        z = rng.normal(scale=0.15, size=(stop - start, latent)).astype(np.float32)
        noise = rng.normal(scale=0.01, size=(stop - start, DIM)).astype(np.float32)
        out[start:stop] = normalise(
            means[rng.integers(0, centres, stop - start)] + z @ basis + noise
        )
    return out


def array_lookup(data: Vectors) -> VectorLookup:
    def lookup(ids: Ids) -> tuple[Ids, Vectors]:
        return ids, data[ids]

    return lookup


def sqlite_lookup(data: Vectors, directory: Path) -> VectorLookup:
    store = Store.open(directory)
    store.bind_model("bench", DIM)
    with store.write() as conn:
        conn.execute(
            "INSERT INTO videos (id, path, content_hash, duration_s, fps, width, height,"
            " frame_count, scene_count, sample_count, ingested_at) "
            "VALUES (1, 'bench', 'bench', 0, 0, 0, 0, 0, 0, 0, 0)"
        )
        conn.executemany(
            "INSERT INTO scenes (id, video_id, idx, start_s, end_s, start_frame, end_frame, "
            "vector) VALUES (?, 1, 0, 0, 0, 0, 0, ?)",
            ((i, data[i].tobytes()) for i in range(len(data))),
        )
    return store.lookup_vectors


def build(kind: str, params: dict[str, str], data: Vectors, lookup: VectorLookup) -> VectorIndex:
    index = create_index(kind, DIM, params, lookup)
    if isinstance(index, IvfPqIndex):
        sample = data[np.random.default_rng(1).permutation(len(data))[: 256 * 1024]]
        index.train(sample, len(data))
    for start in range(0, len(data), 100_000):
        stop = min(len(data), start + 100_000)
        index.add(np.arange(start, stop, dtype=np.int64), data[start:stop])
    return index


def tune(index: VectorIndex, variant: dict[str, str]) -> None:
    """Apply search-time parameters to a built index (no rebuild needed for these)."""
    for key, value in variant.items():
        if key == "efSearch":
            index.ef_search = int(value)  # type: ignore[attr-defined]
        elif key == "rerank":
            index.rerank_factor = int(value)  # type: ignore[attr-defined]
        elif key == "nprobe":
            index.set_nprobe(int(value))  # type: ignore[attr-defined]


def latency_ms(search: Callable[[Vectors], object], queries: Vectors) -> tuple[float, float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        search(q[None, :])
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def recall(truth: Ids, got: Ids) -> float:
    return float(np.mean([len(set(t) & set(g)) / len(t) for t, g in zip(truth, got, strict=True)]))


def run_size(n: int, kinds: set[str], sqlite_rerank: bool) -> list[str]:
    centres = max(1000, n // 250)
    data = clip_like(n, centres, seed=0)
    queries = clip_like(1000, centres, seed=1)  # same centres: queries look like the data
    rows = []
    lookup = array_lookup(data)
    truth: Ids | None = None
    flat_p50 = 0.0
    configs = [c for c in CONFIGS if c[0] in kinds]
    with tempfile.TemporaryDirectory() as tmp:
        lookups = {"memory": lookup}
        if sqlite_rerank:
            lookups["sqlite"] = sqlite_lookup(data, Path(tmp))
            configs.append(("lsh", {"nbits": "512", "_lookup": "sqlite"}, [{"rerank": "10"}]))
        for kind, params, variants in configs:
            where = params.get("_lookup", "memory")
            clean = {k: v for k, v in params.items() if not k.startswith("_")}
            started = time.perf_counter()
            index = build(kind, clean, data, lookups[where])
            build_s = time.perf_counter() - started
            bytes_per = len(index.to_bytes()) / n
            for variant in variants:
                tune(index, variant)
                p50, p99 = latency_ms(functools.partial(index.search, k=10), queries[:200])
                started = time.perf_counter()
                _, got = index.search(queries, 10)
                qps = len(queries) / (time.perf_counter() - started)
                if kind == "flat":
                    truth, flat_p50 = got, p50
                assert truth is not None, "flat runs first: it is the ground truth"
                shown = {**clean, **variant}
                label = kind + (
                    " " + ",".join(f"{k}={v}" for k, v in shown.items()) if shown else ""
                )
                if where == "sqlite":
                    label += " (re-rank from SQLite)"
                reranks = kind in ("lsh", "ivfpq") and variant.get("rerank") != "0"
                extra = " (+2,048 stored)" if reranks else ""
                rows.append(
                    f"| {n:,} | {label} | {build_s:.1f} | {bytes_per:,.0f}{extra} | {p50:.2f} | "
                    f"{p99:.2f} | {flat_p50 / p50:.1f}x | {qps:,.0f} | {recall(truth, got):.3f} |"
                )
                print(rows[-1], flush=True)
            del index
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--kinds", nargs="+", default=["flat", "hnsw", "ivfpq", "lsh"])
    parser.add_argument("--sqlite-rerank", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/index.md"))
    args = parser.parse_args()
    header = [
        "# Index benchmark",
        "",
        f"512-d unit vectors around n/250 (min 1000) cluster centres; 200 single queries for "
        f"latency, 1000 in one batch for throughput; k=10; recall@10 against `flat`. Machine: "
        f"{platform.machine()}, {faiss.omp_get_max_threads()} FAISS threads. Command: "
        f"`python -m bench.index {' '.join(str(s) for s in args.sizes)}`.",
        "",
        "| vectors | kind | build s | bytes/vector | p50 ms | p99 ms | p50 vs flat | batch "
        "QPS | recall@10 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(header), flush=True)
    rows = []
    for n in args.sizes:
        rows += run_size(n, set(args.kinds), args.sqlite_rerank and n <= 200_000)
    text = "\n".join(header + rows) + "\n"
    publish(text, args.out, echo=False)


if __name__ == "__main__":
    main()
