"""CLI commands for concepts learned from marked examples: `concept save|list|show|delete`,
and `concept search` (a concept is also a term of `search`, through the client)."""

from __future__ import annotations

import argparse
import datetime
from dataclasses import asdict

from rich.table import Table

from scenesearch.client import render
from scenesearch.client.cli_common import connect, out, with_json
from scenesearch.client.cli_search import show_hits
from scenesearch.client.concepts import ConceptExamples, ConceptInfo
from scenesearch.client.remote import QueryTerm
from scenesearch.contract import DEFAULT_TOP_K


def _accuracy(info: ConceptInfo) -> str:
    if info.cv_accuracy is None:
        return "-"
    return f"{info.cv_accuracy:.2f} ({info.cv_folds}-fold)"


def _when(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def concepts_table(concepts: list[ConceptInfo]) -> Table:
    table = Table(title="concepts")
    for column in ("name", "version", "examples +/-", "vectors +/-", "cv accuracy", "model"):
        table.add_column(column)
    for c in concepts:
        model = c.model if c.usable else f"[red]{c.model} (not this server's model)"
        table.add_row(
            c.name,
            str(c.version),
            f"{c.positive_examples} / {c.negative_examples}",
            f"{c.positive_vectors} / {c.negative_vectors} ({c.random_negatives} random)",
            _accuracy(c),
            model,
        )
    return table


def cmd_save(args: argparse.Namespace) -> int:
    positive = ConceptExamples.of(args.scene or (), args.image or (), args.text or ())
    negative = ConceptExamples.of(args.not_scene or (), args.not_image or (), args.not_text or ())
    with connect(args) as client:
        info = client.save_concept(args.name, positive, negative)
    if args.json:
        print(render.to_json(info))
        return 0
    out.print(
        f"saved concept {info.name!r} version {info.version}: "
        f"{info.positive_vectors} positive and {info.negative_vectors} negative vectors "
        f"({info.random_negatives} random library frames); "
        f"cross-validated accuracy {_accuracy(info)}"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        concepts = client.list_concepts()
    if args.json:
        print(render.to_json(concepts))
    elif not concepts:
        out.print("no concepts saved; make one with `scenesearch concept save NAME --scene ID`")
    else:
        out.print(concepts_table(concepts))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with connect(args) as client:
        detail = client.get_concept(args.name)
    info = detail.info
    if args.json:
        summary = asdict(info)
        for side, examples in (("positive", detail.positive), ("negative", detail.negative)):
            summary[side] = {
                "scene_ids": examples.scene_ids,
                "images": [f"{len(i)} bytes" for i in examples.images],
                "texts": examples.texts,
            }
        summary["bias"] = detail.bias
        print(render.to_json(summary))
        return 0
    out.print(concepts_table([info]))
    for side, examples in (("positive", detail.positive), ("negative", detail.negative)):
        parts = [f"scenes {', '.join(map(str, examples.scene_ids))}"] if examples.scene_ids else []
        parts += [f"{len(examples.images)} images"] if examples.images else []
        parts += [repr(t) for t in examples.texts]
        out.print(f"{side}: {'; '.join(parts) or '-'}")
    out.print(f"saved {_when(info.created_at)}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with connect(args) as client:
        version = client.delete_concept(args.name)
    out.print(f"deleted concept {args.name!r} (version {version})")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    with connect(args) as client:
        results = client.search_terms(
            [QueryTerm(concept=args.name)], top_k=args.top_k, video_ids=args.video or ()
        )
    return show_hits(args, results, f"concept {args.name}", [])


def add_concept_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    concept = sub.add_parser("concept", help="concepts learned from marked examples")
    csub = concept.add_subparsers(dest="concept_command", required=True)

    save = with_json(csub.add_parser("save", help="train a concept (again: next version)"))
    save.add_argument("name")
    for flag, kind, what in [
        ("scene", int, "a scene that shows it"),
        ("image", str, "an image file that shows it"),
        ("text", str, "a text that describes it"),
    ]:
        save.add_argument(f"--{flag}", type=kind, nargs="+", action="extend", help=what)
        save.add_argument(
            f"--not-{flag}",
            type=kind,
            nargs="+",
            action="extend",
            help=f"a counter-example: {what.replace('shows', 'does not show')}",
        )
    save.set_defaults(func=cmd_save)

    with_json(csub.add_parser("list", help="saved concepts")).set_defaults(func=cmd_list)
    show = with_json(csub.add_parser("show", help="a concept's examples and figures"))
    show.add_argument("name")
    show.set_defaults(func=cmd_show)
    delete = csub.add_parser("delete", help="delete a concept")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_delete)

    search = with_json(csub.add_parser("search", help="scenes ranked by a concept"))
    search.add_argument("name")
    search.add_argument("--top-k", type=int, default=DEFAULT_TOP_K)
    search.add_argument("--video", type=int, action="append", help="only in this video")
    search.set_defaults(func=cmd_search)
