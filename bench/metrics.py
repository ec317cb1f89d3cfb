"""What the Prometheus metrics (--metrics-port) cost.

1. Each instrumentation call in this process, with the endpoint on (PrometheusMetrics) and off
   (the no-op Metrics): ns per call.
2. Through two real servers (separate processes on loopback, same tiny random model, same
   ingested video), one with --metrics-port 0 and one without: p50/p95 of scene searches (the
   fastest RPC, so the most sensitive to per-call overhead) and text searches, taken in
   alternating rounds so that the shared machine's noise falls on both alike.
3. One scrape of the endpoint: ms and bytes.

Usage: python -m bench.metrics [--searches 4000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import platform
import re
import signal
import subprocess
import tempfile
import time
import timeit
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.results_file import publish
from scenesearch.client.remote import SceneSearchClient
from scenesearch.server.metrics.base import NO_METRICS, Metrics
from scenesearch.server.metrics.prometheus import PrometheusMetrics
from tests.support.launch import spawn_server
from tests.support.random_model import write_random_clip
from tests.support.synthetic import write_video

METRICS_LINE = re.compile(r"metrics on port (\d+)")


def per_call_ns(metrics: Metrics, number: int) -> dict[str, float]:
    def backend() -> None:
        with metrics.backend("faiss", "search"):
            pass

    timed = metrics.timed(lambda: None, "sqlite", "lookup_vectors")
    calls: dict[str, Callable[[], object]] = {
        "backend() context manager": backend,
        "timed() wrapper": timed,
        "text_batch()": lambda: metrics.text_batch(4),
    }
    if isinstance(metrics, PrometheusMetrics):
        calls["rpc() (interceptor's record)"] = lambda: metrics.rpc(
            "scenesearch.v1.SceneSearch", "Search", "unary", "OK", 0.001
        )
    return {
        name: min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e9
        for name, fn in calls.items()
    }


def start(
    data: Path, model: Path, media: Path, metrics: bool
) -> tuple[subprocess.Popen[str], str, int]:
    ports: list[int] = []

    def note(line: str) -> None:
        if match := METRICS_LINE.search(line):
            ports.append(int(match.group(1)))

    args = [
        "--data-dir", str(data), "--address", "127.0.0.1:0", "--model", str(model),
        "--device", "cpu", "--precision", "fp32", "--runtime", "torch", "--media-root", str(media),
    ]  # fmt: skip
    if metrics:
        args += ["--metrics-port", "0"]
    proc, address = spawn_server(args, echo=note)
    return proc, address, ports[0] if ports else 0


def timed_ms(fn: Callable[..., object], *args: object, **kwargs: object) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=4000, help="scene searches per server")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("bench/results/metrics.md"))
    args = parser.parse_args()

    on_ns = per_call_ns(PrometheusMetrics(), 100_000)
    off_ns = per_call_ns(NO_METRICS, 100_000)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = write_random_clip(root / "model")
        media = root / "media"
        media.mkdir()
        video = write_video(media / "bench_metrics.mp4", [1.5, 1.2, 1.8, 1.1], seed=1409)
        servers = {}
        for label, on in (("on", True), ("off", False)):
            proc, address, port = start(root / f"data-{label}", model, media, on)
            client = SceneSearchClient(address, timeout_s=60.0)
            done = client.ingest_path(str(video.path))
            scenes = [s.id for s in client.get_video(done.video_id).scenes]
            servers[label] = (proc, client, scenes, port)
        scene_ms: dict[str, list[float]] = {"on": [], "off": []}
        text_ms: dict[str, list[float]] = {"on": [], "off": []}
        per_round = args.searches // args.rounds
        for round_no in range(args.rounds):
            order = ["on", "off"] if round_no % 2 == 0 else ["off", "on"]  # neither always first
            for label in order:
                _proc, client, scenes, _port = servers[label]
                for i in range(per_round):
                    scene = scenes[i % len(scenes)]
                    scene_ms[label].append(timed_ms(client.search_scene, scene, top_k=10))
                for i in range(per_round // 4):
                    text = f"a red square number {i}"
                    text_ms[label].append(timed_ms(client.search_text, text, top_k=10))
        port = servers["on"][3]
        url = f"http://127.0.0.1:{port}/metrics"
        scrapes, size = [], 0
        for _ in range(20):
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=10) as response:
                size = len(response.read())
            scrapes.append((time.perf_counter() - started) * 1e3)
        for proc, client, _scenes, _port in servers.values():
            client.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q))

    lines = [
        "# Metrics overhead",
        "",
        f"Machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}; shared with other work, so the RPC rows are noisy. "
        f"Command: `python -m bench.metrics --searches {args.searches} --rounds {args.rounds}`.",
        "",
        "## Each instrumentation call, in process",
        "",
        "| call | endpoint on (ns) | off, no-op (ns) |",
        "|---|---:|---:|",
    ]
    for name, ns in on_ns.items():
        off = off_ns.get(name)
        lines.append(f"| {name} | {ns:.0f} | {'—' if off is None else f'{off:.0f}'} |")
    lines += [
        "",
        "## Through a real server (tiny random CLIP, 4-scene library, loopback)",
        "",
        "| RPC | metrics | calls | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|",
    ]
    for name, table in (("scene search", scene_ms), ("text search", text_ms)):
        for label in ("off", "on"):
            ms = table[label]
            lines.append(
                f"| {name} | {label} | {len(ms)} | {pct(ms, 50):.3f} | {pct(ms, 95):.3f} |"
            )
    delta = pct(scene_ms["on"], 50) - pct(scene_ms["off"], 50)
    # A scene search records one RPC and one FAISS search (text search adds a batch and an
    # encoder call): the in-process sum is the floor of what the endpoint adds to it.
    floor_us = (on_ns["rpc() (interceptor's record)"] + on_ns["backend() context manager"]) / 1e3
    lines += [
        "",
        f"Scene search p50, on minus off: **{delta * 1e3:+.0f} µs** (noise on this machine); "
        f"the instrumentation calls one scene search makes sum to {floor_us:.1f} µs, "
        f"{floor_us / (pct(scene_ms['off'], 50) * 1e3):.1%} of its p50.",
        "",
        f"One scrape of /metrics: p50 {pct(scrapes, 50):.2f} ms, {size} bytes.",
        "",
    ]
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
