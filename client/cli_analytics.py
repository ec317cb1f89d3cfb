"""CLI commands over stored embeddings: `classify` and `timeline`."""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from scenesearch.client import render
from scenesearch.client.cli_common import connect, out, with_json
from scenesearch.client.plot import plot_timeline
from scenesearch.client.results import Classification, Segment, Timeline


def _segments(segments: Sequence[Segment], limit: int = 4) -> str:
    shown = [f"{render.timestamp(s.start_s)} - {render.timestamp(s.end_s)}" for s in segments]
    more = f" (+{len(shown) - limit} more)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


def show_classification(console: Console, item: Classification) -> None:
    console.print(
        f"[bold]video {item.video_id}[/bold] {item.video_path} "
        f"({render.timestamp(item.duration_s)})"
    )
    summary = Table(title="prompts")
    for name in ("prompt", "contains", "coverage", "first seen", "visible", "segments"):
        summary.add_column(name, no_wrap=name != "segments")
    for p in item.prompts:
        summary.add_row(
            p.label,
            "yes" if p.contains else "no",
            f"{p.coverage_pct:.1f}%",
            render.timestamp(p.first_seen_s) if p.first_seen_s >= 0 else "-",
            f"{p.visible_s:.1f}s",
            _segments(p.segments),
        )
    console.print(summary)
    intervals = Table(title="intervals")
    intervals.add_column("start", no_wrap=True)
    intervals.add_column("end", no_wrap=True)
    intervals.add_column("label")
    intervals.add_column("samples per prompt")
    for i in item.intervals:
        intervals.add_row(
            render.timestamp(i.start_s),
            render.timestamp(i.end_s),
            i.label,
            " ".join(str(c) for c in i.counts),
        )
    console.print(intervals)


def write_csv(path: Path, timelines: list[Timeline]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        labels = [c.label for c in timelines[0].curves] if timelines else []
        writer.writerow(["video_id", "time_s", *labels])
        for t in timelines:
            for row, time_s in enumerate(t.times_s):
                writer.writerow(
                    [t.video_id, f"{time_s:.3f}", *(f"{c.scores[row]:.5f}" for c in t.curves)]
                )


def plot_paths(base: Path, timelines: list[Timeline]) -> list[Path]:
    if len(timelines) == 1:
        return [base]
    return [base.with_name(f"{base.stem}-video{t.video_id}{base.suffix}") for t in timelines]


def _prompts(args: argparse.Namespace) -> dict[str, Any]:
    """The videos and prompts both commands take, as keyword arguments of the client."""
    return {
        "video_ids": args.video_ids,
        "prompts": args.prompt,
        "prompt_images": [Path(p) for p in args.prompt_image],
        "prompt_concepts": args.concept,
        "all_videos": args.all,
    }


def cmd_classify(args: argparse.Namespace) -> int:
    with connect(args) as client:
        results = client.classify(
            **_prompts(args),
            null_prompt=args.null_prompt or "",
            interval_s=args.interval,
            min_visible_s=args.min_visible,
        )
    if args.json:
        print(render.to_json(results))
    else:
        for item in results:
            show_classification(out, item)
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    width, _, height = args.size.partition("x")
    with connect(args) as client:
        results = client.timeline(
            **_prompts(args),
            smooth=args.smooth,
            threshold=args.threshold,
        )
    if args.csv:
        write_csv(Path(args.csv), results)
        out.print(f"wrote {args.csv}")
    if args.plot:
        for item, path in zip(results, plot_paths(Path(args.plot), results), strict=True):
            plot_timeline(item, path, int(width), int(height), args.threshold)
            out.print(f"wrote {path}")
    if args.json:
        print(render.to_json(results))
        return 0
    for item in results:
        table = Table(title=f"video {item.video_id} {item.video_path}: {len(item.times_s)} samples")
        for name in ("prompt", "min", "mean", "max", "flagged segments (peak)"):
            table.add_column(name, no_wrap=name != "flagged segments (peak)")
        for c in item.curves:
            flagged = (
                ", ".join(
                    f"{render.timestamp(s.start_s)} - {render.timestamp(s.end_s)} "
                    f"({s.peak_score:.3f} at {render.timestamp(s.peak_s)})"
                    for s in c.segments
                )
                or "-"
            )
            scores = c.scores or [0.0]
            table.add_row(
                c.label,
                f"{min(scores):.3f}",
                f"{sum(scores) / len(scores):.3f}",
                f"{max(scores):.3f}",
                flagged,
            )
        out.print(table)
    return 0


def add_analytics_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("video_ids", type=int, nargs="*", help="video ids (or --all)")
        p.add_argument("--all", action="store_true", help="every ingested video")
        p.add_argument("--prompt", action="append", default=[], help="text prompt (repeatable)")
        p.add_argument(
            "--prompt-image",
            action="append",
            default=[],
            metavar="FILE",
            help="example image as a prompt (repeatable)",
        )
        p.add_argument(
            "--concept",
            action="append",
            default=[],
            metavar="NAME",
            help="a saved concept as a prompt (repeatable; see `scenesearch concept list`)",
        )
        return with_json(p)

    classify = common(
        sub.add_parser(
            "classify", help="label each interval of videos with the best-matching prompt"
        )
    )
    classify.add_argument(
        "--null-prompt", help='class for frames matching nothing, e.g. "something else"'
    )
    classify.add_argument("--interval", type=float, default=5.0, help="seconds per label")
    classify.add_argument(
        "--min-visible",
        type=float,
        default=0.0,
        help="seconds a prompt must stay visible to count as contained",
    )
    classify.set_defaults(func=cmd_classify)

    timeline = common(sub.add_parser("timeline", help="prompt similarity over time"))
    timeline.add_argument("--smooth", type=int, default=0, help="moving average, in samples")
    timeline.add_argument(
        "--threshold", type=float, default=None, help="flag segments at or above this similarity"
    )
    timeline.add_argument("--csv", help="write the curves to this CSV file")
    timeline.add_argument("--plot", help="write a PNG plot to this file")
    timeline.add_argument("--size", default="1200x600", help="plot size in pixels, WxH")
    timeline.set_defaults(func=cmd_timeline)
