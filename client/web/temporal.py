"""The temporal search page, "A then B within N s, without C", and its JSON twin.

Steps are rows of repeated URL fields, in order: `sk` kind, `sv` value, `st` threshold
(blank: the page's `threshold`) and `sr` role, "then" (must occur, in order) or "not"
(must not occur inside the span). A `<select>` carries the role because an unticked
checkbox sends nothing and would shift the rows. Results are spans, each opening the
player at its start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from scenesearch.client.remote import SceneSearchClient, TemporalResults, TemporalStep
from scenesearch.client.results import TemporalSpan, VideoDetail
from scenesearch.client.web.common import ids as id_list
from scenesearch.client.web.common import json_response, number, render, state, token_of, wants_json
from scenesearch.client.web.gateway import WebError
from scenesearch.client.web.images import ImageCache
from scenesearch.client.web.pages import concepts_or_none, display_name
from scenesearch.client.web.terms import Term, bad, check_count, checked_number, checked_value, rows
from scenesearch.contract import DEFAULT_TOP_K, MAX_TOP_K

DEFAULT_THRESHOLD = 0.25
ROLES = ("then", "not")
MAX_GAP_S = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class Step:
    term: Term
    threshold: float | None  # None: the query's threshold
    negated: bool = False


@dataclass(frozen=True, slots=True)
class WhenQuery:
    steps: tuple[Step, ...] = ()
    within_s: float | None = None  # most seconds between steps; None: no limit
    threshold: float = DEFAULT_THRESHOLD
    smooth: int = 0
    top_k: int = DEFAULT_TOP_K
    videos: tuple[int, ...] = ()
    exhaustive: bool = False

    @property
    def empty(self) -> bool:
        return not self.steps

    def params(self) -> list[tuple[str, str]]:
        """The query as URL fields: every step with all four of its fields, so a row added
        later (an image step) lines up whatever the URL it came from left out."""
        out: list[tuple[str, str]] = []
        for s in self.steps:
            own = "" if s.threshold is None else f"{s.threshold:g}"
            out += [("sk", s.term.kind), ("sv", s.term.value)]
            out += [("sr", "not" if s.negated else "then"), ("st", own)]
        if self.within_s is not None:
            out.append(("within", f"{self.within_s:g}"))
        if self.threshold != DEFAULT_THRESHOLD:
            out.append(("threshold", f"{self.threshold:g}"))
        if self.smooth:
            out.append(("smooth", str(self.smooth)))
        if self.top_k != DEFAULT_TOP_K:
            out.append(("top_k", str(self.top_k)))
        out += [("video", str(v)) for v in self.videos]
        if self.exhaustive:
            out.append(("exhaustive", "1"))
        return out

    def to_steps(self, images: ImageCache) -> list[TemporalStep]:
        return [
            TemporalStep(
                s.term.to_query_term(images),
                self.threshold if s.threshold is None else s.threshold,
                s.negated,
            )
            for s in self.steps
        ]


def parse_when(request: Request) -> WhenQuery:
    params = request.query_params
    roles = params.getlist("sr")
    thresholds = params.getlist("st")
    steps = []
    for n, kind, raw, raw_threshold in rows(
        params.getlist("sk"), params.getlist("sv"), thresholds, "step"
    ):
        where = f"step {n + 1}"
        role = roles[n] if n < len(roles) else "then"
        if role not in ROLES:
            raise bad(f"{where}: the role must be 'then' or 'not', not {role!r}")
        threshold = (
            checked_number(raw_threshold, f"{where}'s threshold", 0.0, -1.0, 1.0)
            if raw_threshold.strip()
            else None
        )
        steps.append(Step(Term(kind, checked_value(kind, raw, where)), threshold, role == "not"))
    check_count(len(steps), "step")
    if steps and all(s.negated for s in steps):
        raise bad(
            "every step is a 'not' step: add a step that must happen (role 'then'); 'not' "
            "steps only rule spans out"
        )
    within = params.get("within", "").strip()
    return WhenQuery(
        steps=tuple(steps),
        within_s=checked_number(within, "within", 0.0, 0.0, MAX_GAP_S) if within else None,
        threshold=checked_number(
            params.get("threshold", ""), "threshold", DEFAULT_THRESHOLD, -1.0, 1.0
        ),
        smooth=int(number(params.get("smooth"), "smoothing", 0, 0, 1000, True)),
        top_k=int(number(params.get("top_k"), "top k", DEFAULT_TOP_K, 1, MAX_TOP_K, True)),
        videos=tuple(id_list(params.getlist("video"), "video")),
        exhaustive=params.get("exhaustive") in ("1", "on", "true"),
    )


def run_when(
    client: SceneSearchClient, query: WhenQuery, images: ImageCache
) -> tuple[TemporalResults, dict[int, VideoDetail]]:
    results = client.temporal_search(
        query.to_steps(images),
        query.within_s,
        smooth=query.smooth,
        top_k=query.top_k,
        video_ids=query.videos,
        exhaustive=query.exhaustive,
    )
    # The scenes of each video found, for a thumbnail of where each span starts.
    details = {v: client.get_video(v) for v in {s.video_id for s in results.spans}}
    return results, details


def span_view(span: TemporalSpan, detail: VideoDetail | None, labels: list[str]) -> dict[str, Any]:
    at = span.matches[0].peak_s if span.matches else span.start_s
    scenes = detail.scenes if detail else []
    inside = [s for s in scenes if s.start_s <= at < s.end_s]
    scene = inside[0] if inside else (scenes[-1] if scenes else None)
    video = f"/videos/{span.video_id}"
    bounds = urlencode({"start": f"{span.start_s:.3f}", "end": f"{span.end_s:.3f}"})
    return {
        "span": span,
        "name": display_name(span.video_path),
        "play": f"{video}?t={span.start_s:.3f}",
        "clip": f"{video}/clip?{bounds}",
        "thumbnail": f"/scenes/{scene.id}/thumbnail.jpg" if scene else "",
        "matches": [
            {"label": labels[m.step], "match": m, "play": f"{video}?t={m.peak_s:.3f}"}
            for m in span.matches
        ],
    }


async def when_page(request: Request) -> Response:
    web = state(request)
    query = parse_when(request)
    token = token_of(request)
    results: TemporalResults | None = None
    details: dict[int, VideoDetail] = {}
    error: WebError | None = None
    if not query.empty:
        try:
            results, details = await web.gateway.call(
                token, lambda c: run_when(c, query, web.images)
            )
        except WebError as exc:
            if exc.status in (401, 503) or wants_json(request):
                raise
            error = exc
    if wants_json(request):
        return json_response({"query": query, "results": results})
    videos, concepts = await web.gateway.call(
        token, lambda c: (c.list_videos(), concepts_or_none(c))
    )
    labels = [("not " if s.negated else "") + s.term.label for s in query.steps]
    message = ""
    if results is not None and not results.spans:
        message = (
            "No span matched. Lower a threshold, widen 'within', or check the steps one at a "
            "time on the search page."
        )
    return render(
        request,
        "when.html",
        error.status if error else 200,
        query=query,
        rows=[*query.steps, None],  # one blank row to add a step without a script
        results=results,
        spans=[span_view(s, details.get(s.video_id), labels) for s in results.spans]
        if results
        else [],
        videos=videos,
        names={v.id: display_name(v.path) for v in videos},
        concepts=[c for c in concepts if c.usable],
        message=message,
        error=error,
        here=urlencode(query.params()),
    )
