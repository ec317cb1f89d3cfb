"""Ingest benchmark: a 720p, 30 fps, 60 s video through the pipeline with ViT-B/32's real cost.

`CLIPModel(CLIPConfig())` has exactly ViT-B/32's shape (random weights), so embedding costs
what it costs with the real model. Everything is measured side by side in one run:

  decode only   the full decode pass (scale + scene detection), embedding switched off
  embed only    the same sampled frames through the image encoder, nothing else
  ingest        the real pipeline: decode, detect, sample, embed overlapped
  naive         CLIP on every frame (the approach this pipeline avoids)

Usage: python -m bench.ingest [--seconds 60] [--out bench/results/ingest.md]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from bench.results_file import publish
from scenesearch.server.device import preferred_dtype
from scenesearch.server.domain import IngestParams, Vectors
from scenesearch.server.embedder import ClipEmbedder
from scenesearch.server.ingest.pipeline.decode import VideoDecoder
from scenesearch.server.ingest.pipeline.orchestrator import default_stages, ingest_file
from tests.support.random_model import VIT_B_32, random_clip
from tests.support.synthetic import write_video


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/ingest.md"))
    args = parser.parse_args()

    model, processor = random_clip(VIT_B_32)
    dtype = preferred_dtype(torch.device("cpu"), args.precision)
    embedder = ClipEmbedder(model.to(dtype), processor, torch.device("cpu"), "random ViT-B/32")
    params = IngestParams(
        sample_interval_s=1.0, detector="content", threshold=0.0, batch_size=args.batch_size
    )

    with tempfile.TemporaryDirectory() as tmp:
        scene_len = args.seconds / args.scenes
        video, encode_s = timed(
            lambda: write_video(
                Path(tmp) / "bench_720p.mp4", [scene_len] * args.scenes, fps=30.0, size=(1280, 720)
            )
        )
        print(f"encoded test video in {encode_s:.1f}s: {video.path.stat().st_size / 1e6:.1f} MB")
        embedder.embed_images([np.zeros((224, 224, 3), np.uint8)] * 2)  # warm-up

        def no_embed(images: Sequence[npt.NDArray[np.uint8]]) -> Vectors:
            return np.zeros((len(images), embedder.dim), dtype=np.float32)

        decode_only, decode_s = timed(
            lambda: ingest_file(video.path, params, default_stages(params, no_embed))
        )

        sampled = {f.frame_no for f in decode_only.frames}
        with VideoDecoder(video.path) as decoder:
            decoder.open()
            frames = [f.rgb for f in decoder.frames() if f.index in sampled]

        def embed_all() -> None:
            for i in range(0, len(frames), args.batch_size):
                embedder.embed_images(frames[i : i + args.batch_size])

        _, embed_s = timed(embed_all)
        full, ingest_s = timed(
            lambda: ingest_file(video.path, params, default_stages(params, embedder.embed_images))
        )
        naive_s = float("nan")
        if not args.skip_naive:
            _, naive_s = timed(
                lambda: ingest_file(
                    video.path,
                    params,
                    default_stages(params, embedder.embed_images),
                    every_frame=True,
                )
            )

    duration = full.info.duration_s
    rows = [
        ("decode only (decode + scale + detect)", decode_s, f"{full.info.frame_count} frames"),
        ("embed only (same sampled frames)", embed_s, f"{len(frames)} frames"),
        ("decode only + embed only", decode_s + embed_s, "sum of the two above"),
        (
            "ingest (overlapped pipeline)",
            ingest_s,
            f"{len(full.scenes)} scenes, {len(full.frames)} samples",
        ),
        ("naive: CLIP on every frame", naive_s, f"{full.info.frame_count} frames embedded"),
    ]
    lines = [
        "# Ingest benchmark",
        "",
        f"Video: {duration:.0f} s, 1280x720, 30 fps, H.264, {args.scenes} scenes; "
        f"model: random ViT-B/32 (`CLIPModel(CLIPConfig())`) in {str(dtype)[6:]}, "
        f"batch {args.batch_size}; "
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}. Command: `python -m bench.ingest`.",
        "",
        "| stage | seconds | x real time | notes |",
        "|---|---:|---:|---|",
    ]
    for name, seconds, note in rows:
        lines.append(f"| {name} | {seconds:.2f} | {duration / seconds:.1f}x | {note} |")
    lines += [
        "",
        f"- ingest vs decode-only + embed-only: **{ingest_s / (decode_s + embed_s):.2f}x** "
        "(target ≤ 1.2x)",
        f"- ingest real-time factor: **{duration / ingest_s:.1f}x** faster than real time "
        "(target ≥ 10x)",
        f"- speed-up over naive every-frame CLIP: **{naive_s / ingest_s:.1f}x**",
    ]
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
