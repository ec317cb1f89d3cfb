"""`scenesearch ingest --ray [auto|ADDRESS] PATHS...`: flags, one progress display, summary.

Imports no Ray until a run starts, so `scenesearch ingest --ray` on a machine without the
[ray] extra says how to install it.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scenesearch.client import render
from scenesearch.client.cli_common import connect, err, out
from scenesearch.client.ray_ingest.plan import (
    ModelMismatchError,
    RayIngestConfig,
    RunProgress,
    RunSummary,
)
from scenesearch.client.ray_ingest.runtime import RayUnavailable

# host:port, [v6]:port or ray://host:port: anything else after --ray is taken as a path.
ADDRESS = re.compile(r"(ray://)?([\w.\-]+|\[[0-9a-fA-F:]+\]):\d+")


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("distributed ingest (--ray)")
    group.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        metavar="auto|ADDRESS",
        help="decode and embed on a Ray cluster, then import into the server; 'auto' (the "
        "default) joins RAY_ADDRESS or starts a local runtime. The paths must be the same on "
        "every Ray node. Needs: pip install 'scenesearch[ray]'",
    )
    group.add_argument("--ray-cpus", type=int, default=0, help="CPUs of a local runtime")
    group.add_argument("--decoders", type=int, default=0, help="decode tasks at once")
    group.add_argument("--embed-actors", type=int, default=0, help="embedding actors")
    group.add_argument("--embed-batch", type=int, default=0, help="frames per forward pass")
    group.add_argument("--max-videos", type=int, default=0, help="videos in flight, at most")
    group.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16", "fp16"),
        help="precision of the embedding actors (match the server's for equal vectors)",
    )
    group.add_argument(
        "--runtime",
        default="torch",
        help="inference runtime of the embedding actors: torch (default, and on GPUs), onnx "
        "or openvino (match the server's --runtime for equal vectors)",
    )


def split_ray_value(value: str, paths: list[str]) -> tuple[str, list[str]]:
    """`--ray a.mp4 b.mp4` parses a.mp4 as the address: give it back to the paths."""
    if value in ("auto", "local") or ADDRESS.fullmatch(value):
        return ("auto" if value == "local" else value), paths
    return "auto", [value, *paths]


def config_from_args(args: argparse.Namespace, address: str) -> RayIngestConfig:
    return RayIngestConfig(
        ray_address=address,
        local_cpus=args.ray_cpus,
        decoders=args.decoders,
        embed_actors=args.embed_actors,
        embed_batch=args.embed_batch,
        max_videos=args.max_videos,
        precision=args.precision,
        runtime=args.runtime,
        sample_interval_s=args.sample_interval,
        detector=args.detector or "",
        threshold=args.threshold,
    )


def cmd_ingest_ray(
    args: argparse.Namespace, expand_paths: Callable[[Iterable[str]], list[Path]]
) -> int:
    """Run `scenesearch ingest --ray`; `expand_paths` finds the videos (as a local ingest)."""
    address, raw = split_ray_value(args.ray, list(args.paths))
    paths = [str(p.resolve()) for p in expand_paths(raw)]
    if not paths:
        err.print("no video files found in the given paths")
        return 2
    config = config_from_args(args, address)
    # With --json, stdout carries the summary alone: what Ray prints meanwhile (a driver's
    # "(raylet) A worker died ..." notices) goes to stderr.
    chatter = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    try:
        from scenesearch.client.ray_ingest import ingest_on_ray

        with (
            chatter,
            connect(args) as client,
            Progress(
                TextColumn("[bold]videos"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=err,
                disable=args.json or (not err.is_terminal and not args.progress),
            ) as bars,
        ):
            task = bars.add_task("ingest", total=len(paths), status="starting Ray")

            def show(p: RunProgress) -> None:
                eta = f" · ETA {render.timestamp(p.eta_s)[:-4]}" if p.eta_s is not None else ""
                status = (
                    f"{p.done} done, [red]{p.failed} failed[/] · {p.in_flight} in flight · "
                    f"{p.frames_per_s:.0f} frames/s{eta}"
                )
                bars.update(task, completed=p.done + p.failed, status=status)

            summary = ingest_on_ray(paths, client, config, on_progress=show)
    except RayUnavailable as exc:
        err.print(str(exc), style="red", markup=False, soft_wrap=True)
        return 2
    except (ModelMismatchError, ValueError) as exc:  # another model; a plan that cannot fit
        err.print(f"error: {exc}", style="red", markup=False, soft_wrap=True)
        return 2
    if args.json:
        print(render.to_json(summary.to_dict()))
    else:
        show_summary(summary)
    return 1 if summary.failed else 0


def show_summary(summary: RunSummary) -> None:
    already = sum(1 for v in summary.videos if v.already_ingested)
    plan = summary.plan
    out.print(
        f"{summary.done} ingested ({already} already there), {len(summary.failed)} failed, "
        f"in {summary.elapsed_s:.1f}s ({summary.extra.get('startup_s', 0.0):.1f}s of it "
        f"starting the embed actors): {summary.videos_per_s:.2f} videos/s, "
        f"{summary.frames / max(summary.elapsed_s, 1e-9):.0f} frames/s "
        f"({plan.decoders} decoders, {plan.actors} embed actor(s) on {plan.device}, "
        f"{summary.cluster.nodes} node(s))"
    )
    if summary.failed:
        table = Table("path", "reason", title="failed")
        for video in summary.failed:
            table.add_row(Path(video.path).name, video.error)
        out.print(table)
