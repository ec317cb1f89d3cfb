"""Concepts in the browser: save one from the hits marked good and bad on the search page,
list them, show one, delete one. Each page has a JSON twin.

A concept is named in the query string (`/concept?name=...`), not in the path: names may
hold any character, a slash included, and a query field carries them all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from scenesearch.client.concepts import ConceptExamples
from scenesearch.client.web.common import json_response, render, state, token_of, wants_json
from scenesearch.client.web.gateway import WebError
from scenesearch.client.web.terms import MAX_CONCEPT_NAME

MAX_MARKS = 1000  # a page shows at most 1000 hits


def concept_name(raw: object) -> str:
    name = str(raw or "").strip()
    if not name:
        raise WebError(400, "No concept name", "Give the concept a name, such as 'sunset'.")
    if len(name) > MAX_CONCEPT_NAME:
        raise WebError(
            400,
            "Concept name too long",
            f"Concept names are at most {MAX_CONCEPT_NAME} characters.",
        )
    return name


def links(name: str) -> dict[str, str]:
    quoted = urlencode({"name": name})
    return {
        "show": f"/concept?{quoted}",
        "json": f"/concept.json?{quoted}",
        "search": "/?" + urlencode({"tk": "concept", "tv": name, "tw": "1"}),
        "when": "/when?" + urlencode({"sk": "concept", "sv": name, "sr": "then"}),
    }


def scene_ids(form: FormData, field: str) -> list[int]:
    out = []
    for raw in (str(v) for v in form.getlist(field)):
        if not raw.isdigit() or len(raw) > 18:
            raise WebError(
                400, "Bad parameter", f"a scene marked {field} must be a scene id, not {raw!r}"
            )
        out.append(int(raw))
    return list(dict.fromkeys(out))


def marked(form: FormData) -> tuple[list[int], list[int]]:
    good, bad = scene_ids(form, "good"), scene_ids(form, "bad")
    both = sorted(set(good) & set(bad))
    if both:
        raise WebError(
            400,
            "Marked both good and bad",
            f"Scene {both[0]} is marked both good and bad; untick one of the two.",
        )
    if not good:
        raise WebError(
            400,
            "Nothing marked good",
            "Tick 'good' on at least one result that shows the concept, then save again.",
        )
    return good, bad


async def save_concept(request: Request) -> Response:
    web = state(request)
    form = await request.form(max_files=0, max_fields=2 * MAX_MARKS + 8)
    name = concept_name(form.get("name"))
    good, bad = marked(form)
    info = await web.gateway.call(
        token_of(request),
        lambda c: c.save_concept(
            name, ConceptExamples(scene_ids=good), ConceptExamples(scene_ids=bad)
        ),
    )
    if wants_json(request):
        return json_response(info)
    return RedirectResponse(links(name)["show"] + "&saved=1", status_code=303)


async def concepts_page(request: Request) -> Response:
    web = state(request)
    concepts = await web.gateway.call(token_of(request), lambda c: c.list_concepts())
    if wants_json(request):
        return json_response(concepts)
    return render(
        request,
        "concepts.html",
        concepts=[{"info": c, "links": links(c.name)} for c in concepts],
        deleted=request.query_params.get("deleted", "")[:MAX_CONCEPT_NAME],
    )


async def concept_page(request: Request) -> Response:
    web = state(request)
    name = concept_name(request.query_params.get("name"))
    detail = await web.gateway.call(token_of(request), lambda c: c.get_concept(name))
    if wants_json(request):
        body: dict[str, Any] = {"concept": detail.info}
        for side, examples in (("positive", detail.positive), ("negative", detail.negative)):
            body[side] = {
                "scene_ids": examples.scene_ids,
                "texts": examples.texts,
                "images": len(examples.images),  # the bytes stay on the server
            }
        body["bias"] = detail.bias
        body["dimension"] = len(detail.weights)
        return json_response(body)
    return render(
        request,
        "concept.html",
        detail=detail,
        info=detail.info,
        links=links(name),
        saved=request.query_params.get("saved") == "1",
    )


async def delete_concept(request: Request) -> Response:
    """DELETE /api/concept?name= deletes; a form POST deletes with confirm=yes (the page's
    dialog sets it) and otherwise asks on a page of its own, so it works with no script."""
    web = state(request)
    if request.method == "DELETE":
        name = concept_name(request.query_params.get("name"))
    else:
        form = await request.form(max_files=0, max_fields=4)
        name = concept_name(form.get("name"))
        if form.get("confirm") != "yes":
            info = (await web.gateway.call(token_of(request), lambda c: c.get_concept(name))).info
            return render(request, "concept_confirm.html", info=info)
    version = await web.gateway.call(token_of(request), lambda c: c.delete_concept(name))
    if request.method == "DELETE" or wants_json(request):
        return JSONResponse({"name": name, "version": version})
    return RedirectResponse("/concepts?" + urlencode({"deleted": name}), status_code=303)
