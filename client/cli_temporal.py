"""`scenesearch when`: temporal queries, "A then B within N seconds, without C".

A step is a text, `image:FILE`, `scene:ID` or `concept:NAME` (a saved concept; `text:...`
forces a text that starts with one of those prefixes); it may end with `::T` to give it its
own threshold instead of `--threshold`.

    scenesearch when "a person enters" --then "a person leaves" --within 30 \\
        --threshold 0.25 --without "a dog"
    scenesearch when image:door.png --then "scene:42::0.8" --within 10 --json
    scenesearch when concept:sunset --then "a city street" --within 60
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from scenesearch.client import render
from scenesearch.client.cli_common import connect, err, out, with_json
from scenesearch.client.remote import QueryTerm, TemporalResults, TemporalStep
from scenesearch.contract import DEFAULT_TOP_K

DEFAULT_THRESHOLD = 0.25


def parse_step(spec: str, threshold: float, negated: bool = False) -> TemporalStep:
    """A step: a text, image:FILE, scene:ID, concept:NAME or text:..., with an optional ::T
    threshold."""
    body, sep, own = spec.rpartition("::")
    if sep:
        try:
            threshold = float(own)
        except ValueError:
            body = spec  # "::" was part of the text
    else:
        body = spec
    kind, colon, value = body.partition(":")
    if colon and kind == "image":
        term = QueryTerm(image=Path(value).expanduser().read_bytes())
    elif colon and kind == "scene":
        term = QueryTerm(scene_id=int(value))
    elif colon and kind == "concept":
        if not value.strip():
            raise ValueError(f"{spec!r} names no concept; write concept:NAME")
        term = QueryTerm(concept=value)
    elif colon and kind == "text":
        term = QueryTerm(text=value)
    else:
        term = QueryTerm(text=body)
    return TemporalStep(term, threshold, negated)


def describe(spec: str) -> str:
    """A short label for a step: an image by its file name."""
    body = spec.rpartition("::")[0] or spec
    if body.startswith("image:"):
        spec = "image " + Path(body[6:]).name
    return spec if len(spec) <= 40 else spec[:39] + "…"


def spans_table(results: TemporalResults, labels: Sequence[str]) -> Table:
    how = "shortlisted by the index" if results.shortlisted else "all read"
    model = f", model {results.model}" if results.model else ""
    table = Table(
        title=f"{len(results.spans)} spans ({results.videos_scanned} videos {how}{model})"
    )
    for name in ("#", "score", "video", "start", "end", "steps matched at (score)", "path"):
        table.add_column(name, justify="right" if name in ("#", "score", "video") else "left")
    for n, span in enumerate(results.spans, start=1):
        steps = "\n".join(
            f"{labels[m.step]}: {render.timestamp(m.peak_s)} ({m.score:.3f})" for m in span.matches
        )
        table.add_row(
            str(n),
            f"{span.score:.4f}",
            str(span.video_id),
            render.timestamp(span.start_s),
            render.timestamp(span.end_s),
            steps,
            span.video_path,
        )
    return table


def cmd_when(args: argparse.Namespace) -> int:
    specs: list[tuple[str, bool]] = [(args.first, False)]
    specs += [(s, False) for s in args.then]
    specs += [(s, True) for s in args.without]
    try:
        steps = [parse_step(s, args.threshold, negated) for s, negated in specs]
    except (OSError, ValueError) as exc:
        err.print(f"bad step: {exc}")
        return 2
    options: dict[str, Any] = {
        "smooth": args.smooth,
        "top_k": args.top_k,
        "video_ids": args.video,
        "shortlist_scenes": args.shortlist,
        "exhaustive": args.exhaustive,
    }
    with connect(args) as client:
        results = client.temporal_search(steps, args.within, **options)
    if args.json:
        print(render.to_json(results))
    else:
        labels = [("not " if neg else "") + describe(s) for s, neg in specs]
        out.print(spans_table(results, labels))
    return 0


def add_temporal_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    when = with_json(
        sub.add_parser(
            "when",
            help='find spans where steps happen in order: "A then B within N s, without C"',
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    when.add_argument("first", metavar="STEP", help="the first step")
    when.add_argument(
        "--then", action="append", default=[], metavar="STEP", help="the next step (repeatable)"
    )
    when.add_argument(
        "--without",
        action="append",
        default=[],
        metavar="STEP",
        help="must not occur inside the span (repeatable)",
    )
    when.add_argument(
        "--within",
        type=float,
        default=None,
        metavar="SECONDS",
        help="most seconds between one step's end and the next one's start (default: no limit)",
    )
    when.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"similarity at which a step occurs (default {DEFAULT_THRESHOLD})",
    )
    when.add_argument("--smooth", type=int, default=0, help="moving average, in samples")
    when.add_argument("--top-k", type=int, default=DEFAULT_TOP_K)
    when.add_argument(
        "--video", type=int, action="append", default=[], help="only this video (repeatable)"
    )
    when.add_argument(
        "--shortlist", type=int, default=0, metavar="N", help="scenes per step to shortlist by"
    )
    when.add_argument(
        "--exhaustive", action="store_true", help="read every video, no index shortlist"
    )
    when.set_defaults(func=cmd_when)
