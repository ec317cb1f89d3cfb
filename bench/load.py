"""Load benchmark: concurrent clients against a live server on loopback.

Phases, in one run:
  1. text-batching: text searches from 1 client, then from 8, for a fixed time each;
  2. mixed load: N clients (default 16) mixing text, image and "more like this" searches
     while one more client ingests (uploads) and deletes videos, for a fixed time;
  3. search latency on an idle server, for the p99/p50 comparison with phase 2.

The server runs as its own process with ViT-B/32's real cost (random weights). Errors are
counted per RPC; NOT_FOUND for a scene whose video was just deleted is the one expected error.
Every phase's clients draw their queries from their own seeds, so no phase repeats another's
queries (the server remembers recent texts). The text-batching rows say how many texts each
forward pass of the text encoder took (the server's metrics) and how many tokens a query is;
the machine's load average is recorded, since a shared machine moves every figure.

Usage: python -m bench.load [--clients 16] [--seconds 30] [--model tiny|vit-b-32]
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import random
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
from PIL import Image

from bench.results_file import publish
from scenesearch.client.remote import ClientError, SceneSearchClient
from tests.support.launch import spawn_server
from tests.support.random_model import BENCH_WORDS, write_random_clip
from tests.support.synthetic import scene_palette, write_video

# The random ViT-B/32 tokenizer makes each of these one token, as CLIP's vocabulary does.
WORDS = BENCH_WORDS


class Recorder:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.expected: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def call(self, name: str, fn: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            fn()
        except ClientError as exc:
            with self._lock:
                if exc.code == grpc.StatusCode.NOT_FOUND:
                    self.expected[name] += 1
                else:
                    self.errors[name] += 1
                    print(f"unexpected {name} error: {exc}", file=sys.stderr)
            return
        with self._lock:
            self.latency[name].append((time.perf_counter() - started) * 1000)


def run_clients(
    count: int, seconds: float, body: Callable[[random.Random], None], seed: int = 0
) -> None:
    """`count` clients calling `body` for `seconds`; client i draws from Random(seed + i)."""
    stop = time.perf_counter() + seconds

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        while time.perf_counter() < stop:
            body(rng)

    threads = [threading.Thread(target=loop, args=(seed + i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def png(index: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(scene_palette(index, 320, 240)).save(buf, format="PNG")
    return buf.getvalue()


def text_batch_totals(metrics_port: int) -> tuple[float, float]:
    """(forward passes, texts encoded) of the server's text encoder so far."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        lines = response.read().decode().splitlines()
    values = dict(line.rsplit(" ", 1) for line in lines if line and not line.startswith("#"))
    return (
        float(values["scenesearch_text_batch_size_count"]),
        float(values["scenesearch_text_batch_size_sum"]),
    )


def mean_tokens(model: Path, queries: list[str]) -> float:
    """Mean tokens per query (with the start and end tokens) for the model's tokenizer."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model))
    return float(np.mean([len(ids) for ids in tokenizer(queries)["input_ids"]]))


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def percentile_row(
    name: str, values: list[float], seconds: float, errors: int, expected: int
) -> str:
    arr = np.asarray(values) if values else np.zeros(1)
    return (
        f"| {name} | {len(values)} | {len(values) / seconds:.1f} | "
        f"{np.percentile(arr, 50):.1f} | {np.percentile(arr, 95):.1f} | "
        f"{np.percentile(arr, 99):.1f} | {errors} | {expected} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--model", choices=("tiny", "vit-b-32"), default="vit-b-32")
    parser.add_argument("--out", type=Path, default=Path("bench/results/load.md"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = write_random_clip(root / "model", args.model)
        videos = [
            write_video(root / "media" / f"v{i}.mp4", [2.0, 2.0, 2.0], seed=i).path
            for i in range(8)
        ]
        ports: list[int] = []

        def metrics_port(line: str) -> None:
            if "metrics on port" in line:
                ports.append(int(line.split("metrics on port ")[1].split()[0]))

        proc, address = spawn_server(
            [
                "--data-dir",
                str(root / "data"),
                "--model",
                str(model),
                "--address",
                "127.0.0.1:0",
                "--max-workers",
                "48",
                "--metrics-port",
                "0",
            ],
            echo=metrics_port,
        )
        try:
            client = SceneSearchClient(address, timeout_s=120)
            device = client.stats().device  # e.g. "cpu (onnx int8; auto, 5.1x torch float32)"
            for path in videos[:4]:
                client.upload(path)

            def text_search(rng: random.Random, rec: Recorder) -> None:
                query = " ".join(rng.choice(WORDS) for _ in range(4))
                rec.call("search text", lambda: client.search_text(query))

            rng = random.Random(7)
            tokens = mean_tokens(
                model, [" ".join(rng.choice(WORDS) for _ in range(4)) for _ in range(200)]
            )
            batching: dict[int, tuple[float, float, int]] = {}
            loads = [load_average()]
            for n, seed in ((1, 10_000), (8, 20_000)):
                rec = Recorder()
                before = text_batch_totals(ports[0])
                body = functools.partial(text_search, rec=rec)
                run_clients(n, args.seconds / 2, body, seed)
                passes, texts = np.subtract(text_batch_totals(ports[0]), before)
                calls = len(rec.latency["search text"])
                # Calls the encoder did not see: remembered by the server's text cache (or the
                # same text twice in one batch).
                batching[n] = (
                    calls / (args.seconds / 2),
                    texts / max(passes, 1.0),
                    int(calls - texts),
                )
            loads.append(load_average())

            images = [png(i) for i in range(6)]
            rec = Recorder()
            stop_writer = threading.Event()

            def writer() -> None:
                rng = random.Random(99)
                while not stop_writer.is_set():
                    path = videos[rng.randrange(4, len(videos))]
                    rec.call("upload+ingest", functools.partial(client.upload, path))
                    ready = [v.id for v in client.list_videos() if v.status == "ready"]
                    extra = [v for v in ready if v > 4]
                    if extra:
                        victim = rng.choice(extra)
                        rec.call("delete", functools.partial(client.delete_video, victim))

            def mixed(rng: random.Random) -> None:
                roll = rng.random()
                if roll < 0.5:
                    text_search(rng, rec)
                elif roll < 0.8:
                    rec.call(
                        "search image", lambda: client.search_image(rng.choice(images), top_k=10)
                    )
                else:
                    scene = rng.randint(1, 60)
                    rec.call("search scene", lambda: client.search_scene(scene, top_k=10))

            writer_thread = threading.Thread(target=writer)
            writer_thread.start()
            run_clients(args.clients, args.seconds, mixed, seed=30_000)
            stop_writer.set()
            writer_thread.join()

            idle = Recorder()

            def idle_mixed(rng: random.Random) -> None:
                if rng.random() < 0.5:
                    text_search(rng, idle)
                else:
                    idle.call("search image", lambda: client.search_image(rng.choice(images)))

            run_clients(args.clients, args.seconds / 2, idle_mixed, seed=40_000)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)

    header = [
        "| RPC | calls | per s | p50 ms | p95 ms | p99 ms | errors | expected errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    mixed_rows = [
        percentile_row(name, rec.latency[name], args.seconds, rec.errors[name], rec.expected[name])
        for name in ("search text", "search image", "search scene", "upload+ingest", "delete")
    ]
    idle_rows = [
        percentile_row(
            name, idle.latency[name], args.seconds / 2, idle.errors[name], idle.expected[name]
        )
        for name in ("search text", "search image")
    ]
    searches = [x for n in ("search text", "search image", "search scene") for x in rec.latency[n]]
    ratio = np.percentile(searches, 99) / np.percentile(searches, 50) if searches else 0.0
    unexpected = sum(rec.errors.values()) + sum(idle.errors.values())
    lines = [
        "# Load benchmark",
        "",
        f"Server: separate process on loopback, model {args.model} (random weights) on "
        f"{device}; "
        f"{args.clients} search clients + 1 ingest/delete client for {args.seconds:.0f} s. "
        f"Command: `python -m bench.load --clients {args.clients} --seconds "
        f"{args.seconds:.0f} --model {args.model}`.",
        "",
        "## Text batching",
        "",
        "| clients | text searches/s | texts per forward pass | from the text cache |",
        "|---:|---:|---:|---:|",
        *(
            f"| {n} | {rate:.1f} | {per_pass:.2f} | {cached:.0f} |"
            for n, (rate, per_pass, cached) in batching.items()
        ),
        "",
        f"8 clients vs 1: **{batching[8][0] / batching[1][0]:.2f}x** (target ≥ 2.5x). "
        f"Queries: 4 random words, {tokens:.1f} tokens each on average with this model's "
        f"tokenizer. Load average (1/5/15 min) before and after these two phases: "
        f"{loads[0]} and {loads[1]}.",
        "",
        "## Mixed load while ingesting and deleting",
        "",
        *header,
        *mixed_rows,
        "",
        f"Search p99 / p50 while ingesting: **{ratio:.2f}x** (target ≤ 5x). Unexpected "
        f"errors: **{unexpected}**.",
        "",
        "## Searches on an idle server (same clients)",
        "",
        *header,
        *idle_rows,
    ]
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
