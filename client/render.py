"""Human-readable tables and JSON for the CLI."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from scenesearch.client.results import Hit, ServerStats, VideoDetail, VideoInfo


def timestamp(seconds: float) -> str:
    """Seconds as HH:MM:SS.mmm."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def to_json(value: Any) -> str:
    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {k: plain(x) for k, x in dataclasses.asdict(v).items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), indent=2)


def hits_table(hits: Sequence[Hit], title: str, terms: Sequence[str] = ()) -> Table:
    """One row per hit; with `terms` (a composite query), a column of each term's cosine."""
    table = Table(title=title)
    for name in ("#", "score", *terms, "video", "scene", "start", "end", "best moment"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("path", overflow="fold")
    for rank, hit in enumerate(hits, start=1):
        per_term = [f"{s:.4f}" for s in hit.term_scores] if terms else []
        table.add_row(
            str(rank),
            f"{hit.score:.4f}",
            *per_term,
            str(hit.video_id),
            f"{hit.scene_id} (#{hit.scene_index})",
            timestamp(hit.start_s),
            timestamp(hit.end_s),
            timestamp(hit.best_time_s),
            hit.video_path,
        )
    return table


def videos_table(videos: Sequence[VideoInfo]) -> Table:
    table = Table(title=f"{len(videos)} video(s)")
    for name in ("id", "duration", "scenes", "samples", "size", "fps", "ingested"):
        table.add_column(name, no_wrap=True)
    table.add_column("path", overflow="fold")
    for v in videos:
        table.add_row(
            str(v.id),
            timestamp(v.duration_s),
            str(v.scene_count),
            str(v.sample_count),
            f"{v.width}x{v.height}",
            f"{v.fps:.3f}",
            time.strftime("%Y-%m-%d %H:%M", time.localtime(v.ingested_at)),
            v.path,
        )
    return table


def video_detail(console: Console, detail: VideoDetail) -> None:
    v = detail.video
    console.print(f"[bold]video {v.id}[/bold] {v.path}")
    console.print(
        f"  duration {timestamp(v.duration_s)}, {v.frame_count} frames, "
        f"{v.fps:.3f} fps, {v.width}x{v.height}, sha256 {v.content_hash[:16]}…"
    )
    table = Table(title=f"{len(detail.scenes)} scene(s)")
    for name in ("scene id", "#", "start", "end", "length", "frames"):
        table.add_column(name, justify="right", no_wrap=True)
    for s in detail.scenes:
        table.add_row(
            str(s.id),
            str(s.index),
            timestamp(s.start_s),
            timestamp(s.end_s),
            f"{s.end_s - s.start_s:.3f}s",
            f"{s.start_frame}-{s.end_frame - 1}",
        )
    console.print(table)


def stats_table(stats: ServerStats) -> Table:
    table = Table(title="scenesearch server", show_header=False)
    table.add_column("key")
    table.add_column("value")
    rows = [
        ("videos", stats.video_count),
        ("scenes", stats.scene_count),
        ("sampled frames", stats.frame_count),
        ("model", stats.model),
        ("dimension", stats.dimension),
        ("device", stats.device),
        ("index", stats.index_kind),
        ("index vectors", stats.index_size),
        (
            "index params",
            ", ".join(f"{k}={v}" for k, v in sorted(stats.index_params.items())) or "-",
        ),
        ("jobs queued / running", f"{stats.jobs_queued} / {stats.jobs_running}"),
    ]
    if stats.index_note:
        rows.append(("index note", stats.index_note))
    if stats.warming:
        rows.append(("warming up", "building read copies of the vectors; searches are slower"))
    for key, value in rows:
        table.add_row(key, str(value))
    return table
