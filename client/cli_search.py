"""Search scenes by a text, an image or a scene, or by several weighted terms.

A composite query lists its terms in order: the text argument, then `--and TEXT`,
`--image FILE`, `--scene ID`, `--concept NAME` (a saved concept), and their negative forms
`--not TEXT`, `--not-image FILE`, `--not-scene ID`, `--not-concept NAME`. `--weight W` sets
the weight of the term just before it (or of the text argument when it comes first);
negative forms take the weight's size as their push.

    scenesearch search "a dog" --not "a cat" --image beach.jpg --weight 0.5
    scenesearch search --concept sunset --not "a city street"
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scenesearch.client import render
from scenesearch.client.cli_common import connect, err, out, with_json
from scenesearch.client.remote import QueryTerm, SearchFilters, SearchResults
from scenesearch.contract import DEFAULT_TOP_K

# option -> (field of QueryTerm, sign of its weight)
TERM_OPTIONS = {
    "--and": ("text", 1.0),
    "--image": ("image", 1.0),
    "--scene": ("scene_id", 1.0),
    "--concept": ("concept", 1.0),
    "--not": ("text", -1.0),
    "--not-image": ("image", -1.0),
    "--not-scene": ("scene_id", -1.0),
    "--not-concept": ("concept", -1.0),
}


class AddTerm(argparse.Action):
    """Collect term options in command-line order into `namespace.terms`."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        field, sign = TERM_OPTIONS[option_string or ""]
        namespace.terms = [*(namespace.terms or []), [field, values, sign]]


class SetWeight(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        weight = float(values)  # type: ignore[arg-type]
        if namespace.terms:
            namespace.terms[-1][2] = weight * (1 if namespace.terms[-1][2] > 0 else -1)
        else:
            namespace.text_weight = weight


def query_terms(args: argparse.Namespace) -> list[QueryTerm]:
    terms: list[QueryTerm] = []
    if args.text is not None:
        terms.append(QueryTerm(text=args.text, weight=args.text_weight))
    for field, value, weight in args.terms or []:
        if field == "image":
            terms.append(QueryTerm(image=Path(value).read_bytes(), weight=weight))
        elif field == "scene_id":
            terms.append(QueryTerm(scene_id=int(value), weight=weight))
        elif field == "concept":
            terms.append(QueryTerm(concept=value, weight=weight))
        else:
            terms.append(QueryTerm(text=value, weight=weight))
    return terms


def describe(args: argparse.Namespace) -> list[str]:
    names = [f"“{args.text}”"] if args.text is not None else []
    for field, value, weight in args.terms or []:
        shown = f"“{value}”" if field == "text" else f"{field.removesuffix('_id')} {value}"
        scale = f" x{abs(weight):g}" if abs(weight) != 1 else ""
        names.append(("-" if weight < 0 else "+") + shown + scale)
    return names


def filters(args: argparse.Namespace) -> SearchFilters:
    return SearchFilters(
        per_video_limit=args.per_video,
        time_from_s=args.time_from,
        time_to_s=args.time_to,
        sort_by_time=args.by_time,
        calibrated=args.calibrated,
        generation=args.generation,
    )


def show_hits(
    args: argparse.Namespace, results: SearchResults, title: str, terms: list[str]
) -> int:
    if args.json:
        print(render.to_json(results))
        return 0
    if results.query_truncated:
        err.print("[yellow]note: a text was longer than the model's context and was truncated")
    if not results.hits:
        out.print("no matching scenes")
        return 0
    answered = f"{results.index_kind} index"
    if results.model:
        answered += f", model {results.model}"
    if results.generation:
        answered += f", generation {results.generation}"
    table = render.hits_table(results.hits, f"{title} ({answered})", terms)
    out.print(table)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    terms = query_terms(args)
    if not terms:
        err.print(
            "give a text query, or terms: --image FILE, --scene ID, --concept NAME, "
            "--and/--not TEXT ..."
        )
        return 2
    common: dict[str, Any] = {
        "top_k": args.top_k,
        "video_ids": args.video or (),
        "min_score": args.min_score,
        "filters": filters(args),
    }
    names = describe(args)
    with connect(args) as client:
        single = terms[0] if len(terms) == 1 and terms[0].weight == 1.0 else None
        if single is not None and single.text is not None:
            results = client.search_text(single.text, **common)
        elif single is not None and single.image is not None:
            results = client.search_image(single.image, **common)
        elif single is not None and single.scene_id is not None:
            results = client.search_scene(single.scene_id, **common)
        else:
            results = client.search_terms(terms, **common)
    return show_hits(args, results, " ".join(names), names if len(names) > 1 else [])


def cmd_similar(args: argparse.Namespace) -> int:
    with connect(args) as client:
        results = client.search_scene(
            args.scene_id,
            top_k=args.top_k,
            video_ids=args.video or (),
            min_score=args.min_score,
            exclude_same_video=args.exclude_video,
            filters=filters(args),
        )
    return show_hits(args, results, f"like scene {args.scene_id}", [])


def _with_filters(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--top-k", type=int, default=DEFAULT_TOP_K)
    p.add_argument("--video", type=int, action="append", help="only this video (repeatable)")
    p.add_argument("--min-score", type=float, default=None)
    p.add_argument(
        "--calibrated",
        action="store_true",
        help="--min-score applies to the model's calibrated score (SigLIP: a probability)",
    )
    p.add_argument("--per-video", type=int, default=0, help="at most N hits per video")
    p.add_argument("--from", dest="time_from", type=float, help="only scenes after T seconds")
    p.add_argument("--to", dest="time_to", type=float, help="only scenes before T seconds")
    p.add_argument("--by-time", action="store_true", help="order hits by video and time")
    p.add_argument(
        "--generation",
        default="",
        help="search a generation a re-embed retained (its kept videos, on the old model), "
        "e.g. 0; `scenesearch reembed --status` lists them",
    )
    return with_json(p)


def add_search_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    search = _with_filters(
        sub.add_parser(
            "search",
            help="search scenes by text, image or scene, or by weighted terms",
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    search.add_argument("text", nargs="?")
    for option, (field, sign) in TERM_OPTIONS.items():
        metavar = {"text": "TEXT", "image": "FILE", "scene_id": "ID", "concept": "NAME"}[field]
        what = "push results away from" if sign < 0 else "look for"
        thing = "saved concept" if field == "concept" else field
        search.add_argument(option, action=AddTerm, metavar=metavar, help=f"{what} this {thing}")
    search.add_argument(
        "--weight", action=SetWeight, metavar="W", help="weight of the term just before it"
    )
    search.set_defaults(func=cmd_search, terms=None, text_weight=1.0)

    similar = _with_filters(sub.add_parser("similar", help="scenes like an existing scene"))
    similar.add_argument("scene_id", type=int)
    similar.add_argument(
        "--exclude-video", action="store_true", help="leave out the other scenes of the same video"
    )
    similar.set_defaults(func=cmd_similar)
