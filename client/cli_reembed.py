"""`scenesearch reembed`: move the library to another model, follow or cancel the move."""

from __future__ import annotations

import argparse

from scenesearch.client import render
from scenesearch.client.cli_common import connect, err, out, with_json
from scenesearch.client.reembed import MISSING_CHOICES, ReembedStatus


def describe(status: ReembedStatus) -> str:
    if status.state == "none":
        return status.message or "no move has run on this library"
    head = (
        f"{status.state}: {status.source_model} (generation {status.source_generation}) -> "
        f"{status.target_model} (generation {status.target_generation}), "
        f"{status.videos_done}/{status.videos_total} videos"
    )
    lines = [head]
    if status.unavailable:
        what = "kept on the old model" if status.missing == "keep" else "dropped"
        lines.append(f"{len(status.unavailable)} video(s) whose source is gone ({what}):")
        lines += [f"  video {v.video_id} {v.path}: {v.reason}" for v in status.unavailable]
    if status.concepts_retrained:
        lines.append("concepts retrained: " + ", ".join(status.concepts_retrained))
    if status.concepts_stale:
        lines.append("concepts NOT retrained (still in the old generation only):")
        lines += [f"  {c}" for c in status.concepts_stale]
    if status.message:
        lines.append(status.message)
    return "\n".join(lines)


def _progress(status: ReembedStatus) -> None:
    current = status.current
    if current is None:
        return
    note = f" ({current.reason})" if current.reason else ""
    err.print(
        f"[{status.videos_done}/{status.videos_total}] video {current.video_id} "
        f"{current.path}: {current.state}{note}"
    )


def cmd_reembed(args: argparse.Namespace) -> int:
    with connect(args) as client:
        if args.cancel:
            status = client.cancel_reembed()
        elif args.status:
            status = client.reembed_status()
        elif args.watch:
            status = client.watch_reembed(None if args.json else _progress)
        elif args.model:
            status = client.reembed(
                args.model, args.missing, None if args.json else _progress, follow=not args.detach
            )
        else:
            err.print("say what to do: --model NEW, --status, --watch or --cancel")
            return 2
    if args.json:
        print(render.to_json(status))
    else:
        out.print(describe(status), highlight=False)
    return 1 if status.state == "failed" else 0


def add_reembed_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = with_json(
        sub.add_parser(
            "reembed",
            help="move the library to another model (searches keep working meanwhile)",
            description="Build a new generation of the library with another model, in the "
            "background, and swap to it when every video is done. Each video is decoded "
            "again from its file or kept upload; ids stay the same. A restarted server "
            "resumes the move.",
        )
    )
    action = p.add_mutually_exclusive_group()
    action.add_argument("--model", help="the new model: a hub id or a directory on the server")
    action.add_argument("--status", action="store_true", help="show the current or last move")
    action.add_argument("--watch", action="store_true", help="follow the move in progress")
    action.add_argument("--cancel", action="store_true", help="stop the move; nothing changes")
    p.add_argument(
        "--missing",
        choices=sorted(MISSING_CHOICES),
        default="keep",
        help="videos whose file is gone: keep them listed (their old-model vectors stay in "
        "the old generation) or drop them; either way they are listed (default keep)",
    )
    p.add_argument("--detach", action="store_true", help="start the move and return; see --watch")
    p.set_defaults(func=cmd_reembed)
