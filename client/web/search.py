"""The search page and its JSON twin: one text, image or scene, or a composite query of
weighted terms (text, image, scene, saved concept), with each hit's per-term similarity.

The whole query lives in the URL: `q`, `image` and `scene` are the simple query of the
search box, the image drop and "more like this"; `tk`/`tv`/`tw` rows add weighted terms
(see terms.py). A one-term query with weight 1 goes through the single-query call (its
scene query keeps "only from other videos"); anything else is `search_terms`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scenesearch.client.remote import Hit, SceneSearchClient, SearchResults
from scenesearch.client.web.common import ids as id_list
from scenesearch.client.web.common import json_response, number, render, state, token_of, wants_json
from scenesearch.client.web.gateway import WebError
from scenesearch.client.web.images import ImageCache
from scenesearch.client.web.pages import concepts_or_none, display_name
from scenesearch.client.web.terms import Term, check_count, checked_value, parse_terms
from scenesearch.contract import DEFAULT_TOP_K, MAX_TOP_K


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str = ""
    image: str = ""  # a key into the ImageCache
    scene: int | None = None
    terms: tuple[Term, ...] = ()  # the weighted terms added to the simple query
    videos: tuple[int, ...] = ()
    min_score: float | None = None
    top_k: int = DEFAULT_TOP_K
    exclude_same_video: bool = False

    @property
    def all_terms(self) -> list[Term]:
        """Every term in the order the server scores them (and `term_scores` lists them)."""
        simple = [Term("text", self.text)] if self.text else []
        simple += [Term("image", self.image)] if self.image else []
        simple += [Term("scene", str(self.scene))] if self.scene is not None else []
        return simple + list(self.terms)

    @property
    def empty(self) -> bool:
        return not self.all_terms

    @property
    def single(self) -> bool:
        terms = self.all_terms
        return len(terms) == 1 and terms[0].weight == 1.0 and not self.terms

    def params(self) -> list[tuple[str, str]]:
        """The query as URL fields, defaults left out so a link says only what was asked."""
        out: list[tuple[str, str]] = []
        if self.text:
            out.append(("q", self.text))
        if self.image:
            out.append(("image", self.image))
        if self.scene is not None:
            out.append(("scene", str(self.scene)))
        for t in self.terms:
            out += [("tk", t.kind), ("tv", t.value), ("tw", f"{t.weight:g}")]
        out += [("video", str(v)) for v in self.videos]
        if self.min_score is not None:
            out.append(("min_score", f"{self.min_score:g}"))
        if self.top_k != DEFAULT_TOP_K:
            out.append(("top_k", str(self.top_k)))
        if self.exclude_same_video:
            out.append(("exclude", "1"))
        return out

    def link(self, **changes: Any) -> str:
        return "/?" + urlencode(replace(self, **changes).params())

    def adding(self, term: Term) -> str:
        return self.link(terms=(*self.terms, term))

    def without(self, index: int) -> str:
        """The link that drops the `index`-th of `all_terms`."""
        simple = len(self.all_terms) - len(self.terms)
        if index >= simple:
            kept = self.terms[: index - simple] + self.terms[index - simple + 1 :]
            return self.link(terms=kept)
        kind = self.all_terms[index].kind
        if kind == "text":
            return self.link(text="")
        if kind == "image":
            return self.link(image="")
        return self.link(scene=None)


def parse_query(request: Request) -> SearchQuery:
    params = request.query_params
    scene = id_list([params.get("scene", "")], "scene")
    min_score = params.get("min_score", "")
    image = params.get("image", "")
    query = SearchQuery(
        text=params.get("q", "").strip()[:2000],
        image=checked_value("image", image, "the image") if image else "",
        scene=scene[0] if scene else None,
        terms=tuple(parse_terms(params.getlist("tk"), params.getlist("tv"), params.getlist("tw"))),
        videos=tuple(id_list(params.getlist("video"), "video")),
        min_score=number(min_score, "min score", 0.0, -1.0, 1.0) if min_score else None,
        top_k=int(number(params.get("top_k"), "top k", DEFAULT_TOP_K, 1, MAX_TOP_K, True)),
        exclude_same_video=params.get("exclude") in ("1", "on", "true"),
    )
    check_count(len(query.all_terms), "term")
    return query


def run_search(client: SceneSearchClient, query: SearchQuery, images: ImageCache) -> SearchResults:
    common: dict[str, Any] = {
        "top_k": query.top_k,
        "video_ids": query.videos,
        "min_score": query.min_score,
    }
    terms = [t.to_query_term(images) for t in query.all_terms]  # an expired image: 404 here
    if query.single and query.scene is not None:
        return client.search_scene(
            query.scene, exclude_same_video=query.exclude_same_video, **common
        )
    if query.single and query.image:
        return client.search_image(terms[0].image or b"", **common)
    if query.single:
        return client.search_text(query.text, **common)
    return client.search_terms(terms, exclude_same_video=query.exclude_same_video, **common)


async def search_page(request: Request) -> Response:
    web = state(request)
    query = parse_query(request)
    token = token_of(request)
    videos, concepts = await web.gateway.call(
        token, lambda c: (c.list_videos(), concepts_or_none(c))
    )
    results: SearchResults | None = None
    error: WebError | None = None
    if not query.empty:
        try:
            results = await web.gateway.call(token, lambda c: run_search(c, query, web.images))
        except WebError as exc:
            if exc.status in (401, 503) or wants_json(request):
                raise  # the login form, or the server-down page
            if exc.status == 400 and query.image and query.single:
                exc.title = "That image could not be read"
            error = exc  # shown above the form, which stays usable
    terms = query.all_terms
    if wants_json(request):
        listed = [{"kind": t.kind, "value": t.value, "weight": t.weight} for t in terms]
        return json_response(
            {"query": query, "terms": listed, "results": results, "videos": len(videos)}
        )
    message = ""
    if not videos:
        message = "The library is empty: add a video on the Library page, then search it."
    elif results is not None and not results.hits:
        message = "No scene matched. Lower the minimum score or widen the video filter."
    return render(
        request,
        "search.html",
        error.status if error else 200,
        query=query,
        terms=[{"term": t, "remove": query.without(n)} for n, t in enumerate(terms)],
        composite=len(terms) > 1 or bool(query.terms),
        results=results,
        hits=[hit_view(h, query, terms) for h in results.hits] if results else [],
        videos=videos,
        concepts=concepts,
        names={v.id: display_name(v.path) for v in videos},
        filters_open=bool(query.videos or query.min_score is not None)
        or query.top_k != DEFAULT_TOP_K,
        message=message,
        error=error,
        seed=seed_view(query),
        here=urlencode(query.params()),
    )


def seed_view(query: SearchQuery) -> dict[str, Any] | None:
    """The scene a "more like this" search starts from, shown above its results."""
    if query.scene is None:
        return None
    return {"scene_id": query.scene, "thumbnail": f"/scenes/{query.scene}/thumbnail.jpg"}


def hit_view(hit: Hit, query: SearchQuery, terms: list[Term]) -> dict[str, Any]:
    scene = str(hit.scene_id)
    return {
        "hit": hit,
        "name": display_name(hit.video_path),
        "thumbnail": f"/scenes/{hit.scene_id}/thumbnail.jpg",
        "play": f"/videos/{hit.video_id}?t={hit.best_time_s:.3f}&scene={hit.scene_id}",
        "clip": f"/scenes/{hit.scene_id}/clip",
        # With no query yet beside it, "more like this" is the plain scene search.
        "more": query.adding(Term("scene", scene)) if not query.empty else f"/?scene={scene}",
        "less": query.adding(Term("scene", scene, -1.0)),
        "term_scores": [(t.signed_label, s) for t, s in zip(terms, hit.term_scores, strict=False)]
        if len(terms) > 1
        else [],
    }


# Where an uploaded image goes: a new search, or a term or step of the current query.
IMAGE_TARGETS = {
    "term": ("/", [("tk", "image"), ("tv", "{key}"), ("tw", "1")]),
    "not": ("/", [("tk", "image"), ("tv", "{key}"), ("tw", "-1")]),
    "step": ("/when", [("sk", "image"), ("sv", "{key}"), ("sr", "then"), ("st", "")]),
    "not-step": ("/when", [("sk", "image"), ("sv", "{key}"), ("sr", "not"), ("st", "")]),
}


async def search_image(request: Request) -> Response:
    """Take a picked, dropped or pasted image; redirect to a URL that names it by key:
    a new image search, or (`add`) the current query (`query`) with the image added."""
    web = state(request)
    limit = web.config.max_image_bytes
    form = await request.form(max_files=1, max_fields=64)
    image = form.get("image")
    data = await image.read(limit + 1) if isinstance(image, UploadFile) else b""
    await form.close()
    if len(data) > limit:
        raise WebError(413, "The image is too big", f"Query images can be up to {limit} bytes.")
    if not data:
        raise WebError(400, "No image", "Pick, drop or paste an image to search with.")
    add = str(form.get("add", "") or "")
    if add:
        if add not in IMAGE_TARGETS:
            raise WebError(400, "Bad parameter", f"add must be one of {', '.join(IMAGE_TARGETS)}")
        key = web.images.put(data)
        path, fields = IMAGE_TARGETS[add]
        # Only re-encoded pairs of the current query go on: nothing else rides the redirect.
        kept = parse_qsl(str(form.get("query", "") or ""), keep_blank_values=True)
        added = [(k, v.format(key=key)) for k, v in fields]
        return RedirectResponse(f"{path}?{urlencode(kept + added)}", status_code=303)
    params: list[tuple[str, str]] = [("image", web.images.put(data))]
    for name in ("top_k", "min_score"):
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            params.append((name, value.strip()))
    params += [("video", str(v)) for v in id_list([str(v) for v in form.getlist("video")], "video")]
    return RedirectResponse("/?" + urlencode(params), status_code=303)
