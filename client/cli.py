"""`scenesearch` command line: serve, ingest, search, similar, videos, stats, index."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from scenesearch.client import render
from scenesearch.client.cli_analytics import add_analytics_commands
from scenesearch.client.cli_common import (
    add_connection_arguments,
    connect,
    err,
    out,
    with_json,
)
from scenesearch.client.cli_concepts import add_concept_commands
from scenesearch.client.cli_media import add_media_commands
from scenesearch.client.cli_reembed import add_reembed_command
from scenesearch.client.cli_search import add_search_commands
from scenesearch.client.cli_temporal import add_temporal_commands
from scenesearch.client.ray_ingest.cli import add_ray_arguments, cmd_ingest_ray
from scenesearch.client.remote import ClientError, IngestUpdate, ingest_options
from scenesearch.client.web.cli import add_web_command
from scenesearch.contract import DETECTORS, INDEX_KINDS, choices_help

VIDEO_SUFFIXES = {
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".mpg",
    ".mpeg",
    ".ts",
    ".wmv",
    ".flv",
    ".3gp",
}


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files as given; directories expanded (recursively) to the video files inside."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
            )
        else:
            found.append(path)
    return found


def cmd_ingest(args: argparse.Namespace) -> int:
    if args.ray is not None:
        return cmd_ingest_ray(args, expand_paths)
    paths = expand_paths(args.paths)
    if not paths:
        err.print("no video files found in the given paths")
        return 2
    options = ingest_options(args.sample_interval, args.detector or "", args.threshold)
    failures = 0
    results = []
    with (
        connect(args) as client,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[stage]}"),
            TimeRemainingColumn(),
            console=err,
            disable=args.json or (not err.is_terminal and not args.progress),
        ) as bars,
    ):
        for path in paths:
            task = bars.add_task(path.name[:40], total=1.0, stage="queued")
            on_progress = _progress_updater(bars, task)
            try:
                if args.upload:
                    final = client.upload(path, options, on_progress)
                else:
                    final = client.ingest_path(str(path.resolve()), options, on_progress)
            except ClientError as exc:
                failures += 1
                bars.update(task, stage="[red]failed")
                err.print(f"[red]{path}: {exc.code.name}: {exc.message}")
                results.append({"path": str(path), "error": exc.code.name, "message": exc.message})
                continue
            note = "already ingested" if final.already_ingested else "done"
            if "warning" in final.message:
                err.print(f"[yellow]{path}: {final.message}")
            bars.update(task, completed=1.0, stage=f"{note} → video {final.video_id}")
            results.append(
                {
                    "path": str(path),
                    "video_id": final.video_id,
                    "already_ingested": final.already_ingested,
                }
            )
    if args.json:
        print(render.to_json(results))
    else:
        for r in results:
            if "video_id" in r:
                out.print(
                    f"{r['path']}: video {r['video_id']}"
                    + (" (already ingested)" if r["already_ingested"] else "")
                )
    return 1 if failures else 0


def _progress_updater(bars: Progress, task: TaskID) -> Callable[[IngestUpdate], None]:
    def update(u: IngestUpdate) -> None:
        frames = f" {u.frames_done}/{u.frames_total} frames" if u.frames_total else ""
        bars.update(task, completed=u.fraction, stage=f"{u.stage}{frames}")

    return update


def cmd_videos(args: argparse.Namespace) -> int:
    with connect(args) as client:
        if args.action == "list":
            videos = client.list_videos()
            print(render.to_json(videos)) if args.json else out.print(render.videos_table(videos))
        elif args.action == "show":
            detail = client.get_video(args.video_id)
            print(render.to_json(detail)) if args.json else render.video_detail(out, detail)
        else:
            removed = client.delete_video(args.video_id)
            if args.json:
                print(render.to_json({"video_id": args.video_id, "scenes_removed": removed}))
            else:
                out.print(f"deleted video {args.video_id} ({removed} scenes)")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with connect(args) as client:
        stats = client.stats()
    print(render.to_json(stats)) if args.json else out.print(render.stats_table(stats))
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    params = dict(p.split("=", 1) for p in args.param)
    with connect(args) as client:
        kind, vectors, seconds = client.rebuild_index(args.kind, params)
    out.print(f"rebuilt the {kind} index: {vectors} vectors in {seconds:.2f}s")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        # The server's weight (torch, FAISS, PyAV...) comes with the [server] extra only.
        from scenesearch.server.__main__ import run
        from scenesearch.server.app import serve  # noqa: F401
    except ImportError as exc:
        err.print(
            "scenesearch serve needs the server, which is not installed here "
            f"({exc.name or exc} is missing). Install it with: pip install 'scenesearch[server]'",
            style="red",
            markup=False,
            soft_wrap=True,
        )
        return 2
    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scenesearch",
        description="Semantic scene search in video: ingest videos, then ask where things are.",
    )
    add_connection_arguments(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    from scenesearch.server.config import add_server_arguments

    serve = sub.add_parser("serve", help="run the server")
    add_server_arguments(serve)
    serve.set_defaults(func=cmd_serve)

    ingest = with_json(sub.add_parser("ingest", help="ingest video files or directories"))
    ingest.add_argument("paths", nargs="+")
    ingest.add_argument(
        "--upload",
        action="store_true",
        help="send the file to the server instead of passing its path",
    )
    ingest.add_argument(
        "--sample-interval",
        type=float,
        default=0.0,
        help="seconds between sampled frames (default: the server's)",
    )
    ingest.add_argument(
        "--detector",
        choices=tuple(DETECTORS),
        help=choices_help(DETECTORS) + " (default: the server's)",
    )
    ingest.add_argument(
        "--threshold", type=float, default=0.0, help="detector threshold (default: the server's)"
    )
    ingest.add_argument(
        "--progress",
        action="store_true",
        help="show progress bars even when stderr is not a terminal",
    )
    add_ray_arguments(ingest)
    ingest.set_defaults(func=cmd_ingest)

    add_search_commands(sub)

    videos = sub.add_parser("videos", help="list, show or delete videos")
    vsub = videos.add_subparsers(dest="action", required=True)
    with_json(vsub.add_parser("list")).set_defaults(func=cmd_videos)
    for action in ("show", "delete"):
        p = with_json(vsub.add_parser(action))
        p.add_argument("video_id", type=int)
        p.set_defaults(func=cmd_videos)

    with_json(sub.add_parser("stats", help="server statistics")).set_defaults(func=cmd_stats)

    index = sub.add_parser("index", help="switch the index kind of a running server")
    isub = index.add_subparsers(dest="action", required=True)
    rebuild = isub.add_parser("rebuild")
    rebuild.add_argument(
        "kind",
        choices=tuple(INDEX_KINDS),
        help=choices_help(INDEX_KINDS),
    )
    rebuild.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    rebuild.set_defaults(func=cmd_index)

    add_analytics_commands(sub)
    add_media_commands(sub)
    add_concept_commands(sub)
    add_reembed_command(sub)
    add_web_command(sub)
    add_temporal_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except ClientError as exc:
        err.print(f"[red]error: {exc.code.name}: {exc.message}")
        code = 1
    except FileNotFoundError as exc:
        err.print(f"[red]error: {exc.filename}: no such file")
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
