"""CLI commands for what the server keeps of each video: `thumbnail` and `clip`."""

from __future__ import annotations

import argparse
from pathlib import Path

from scenesearch.client import render
from scenesearch.client.cli_common import connect, err, out, with_json


def cmd_thumbnail(args: argparse.Namespace) -> int:
    with connect(args) as client:
        thumb = client.thumbnail(args.scene_id)
    path = Path(args.output or f"scene{args.scene_id}.jpg")
    path.write_bytes(thumb.jpeg)
    out.print(f"wrote {path} ({thumb.width}x{thumb.height}, frame at {thumb.time_s:.2f}s)")
    return 0


def cmd_clip(args: argparse.Namespace) -> int:
    if (args.scene_id is None) == (args.video is None):
        err.print("give a scene id, or --video ID with --start/--end")
        return 2
    with connect(args) as client:
        if args.video is not None:
            clip = client.export_clip(video_id=args.video, start_s=args.start, end_s=args.end)
        else:
            clip = client.export_clip(args.scene_id)
    path = Path(args.output or clip.filename)
    path.write_bytes(clip.data)
    summary = {
        "path": str(path),
        "bytes": len(clip.data),
        "start_s": clip.start_s,
        "end_s": clip.end_s,
        "stream_copy": clip.stream_copy,
    }
    if args.json:
        print(render.to_json(summary))
    else:
        how = "copied from the keyframe before the start" if clip.stream_copy else "re-encoded"
        out.print(
            f"wrote {path}: {render.timestamp(clip.start_s)} - {render.timestamp(clip.end_s)} "
            f"({len(clip.data) / 1e6:.1f} MB, {how})"
        )
    return 0


def add_media_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    thumbnail = sub.add_parser("thumbnail", help="save a scene's thumbnail (JPEG)")
    thumbnail.add_argument("scene_id", type=int)
    thumbnail.add_argument("-o", "--output", help="file to write (default sceneID.jpg)")
    thumbnail.set_defaults(func=cmd_thumbnail)

    clip = with_json(sub.add_parser("clip", help="save an MP4 of a scene or of a span"))
    clip.add_argument("scene_id", type=int, nargs="?", help="the scene to export")
    clip.add_argument("--video", type=int, help="export a span of this video instead")
    clip.add_argument("--start", type=float, default=0.0, help="with --video: start, seconds")
    clip.add_argument("--end", type=float, default=0.0, help="with --video: end (0 = the end)")
    clip.add_argument("-o", "--output", help="file to write (default: the server's name)")
    clip.set_defaults(func=cmd_clip)
