"""The pages people read: a video, the library, the stats; each with a JSON twin (`.json`
on the same URL gives the same data). Search is in search.py, temporal queries in
temporal.py, concepts in concepts.py."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from scenesearch.client.concepts import ConceptInfo
from scenesearch.client.remote import ClientError, SceneSearchClient
from scenesearch.client.web.common import ids as id_list
from scenesearch.client.web.common import json_response, number, render, state, token_of, wants_json

JOB_ID = re.compile(r"[^A-Za-z0-9_-]")


def display_name(path: str) -> str:
    """The file name of a server path (or of an upload, "upload:NAME"), for display only:
    never used to open anything."""
    return path.removeprefix("upload:").replace("\\", "/").rsplit("/", 1)[-1] or path


def concepts_or_none(client: SceneSearchClient) -> list[ConceptInfo]:
    """The saved concepts, for pickers; an older server without concepts gives none."""
    try:
        return client.list_concepts()
    except ClientError as exc:
        if exc.code.name == "UNIMPLEMENTED":
            return []
        raise


async def video_page(request: Request) -> Response:
    web = state(request)
    video_id: int = request.path_params["video_id"]
    if wants_json(request):
        detail = await web.gateway.call(token_of(request), lambda c: c.get_video(video_id))
        return json_response(detail)
    detail, concepts = await web.gateway.call(
        token_of(request), lambda c: (c.get_video(video_id), concepts_or_none(c))
    )
    start = number(request.query_params.get("t"), "t", 0.0, 0.0, 1e9)
    scene = id_list([request.query_params.get("scene", "")], "scene")
    return render(
        request,
        "video.html",
        detail=detail,
        video=detail.video,
        name=display_name(detail.video.path),
        start_s=start,
        current_scene=scene[0] if scene else None,
        concepts=[c for c in concepts if c.usable],
    )


async def library_page(request: Request) -> Response:
    web = state(request)
    videos = await web.gateway.call(token_of(request), lambda c: c.list_videos())
    if wants_json(request):
        return json_response(videos)
    template = "_library_table.html" if request.url.path == "/library/table" else "library.html"
    deleted = id_list([request.query_params.get("deleted", "")], "deleted")
    return render(
        request,
        template,
        videos=videos,
        names={v.id: display_name(v.path) for v in videos},
        deleted=deleted[0] if deleted else None,
        job=JOB_ID.sub("", request.query_params.get("job", ""))[:64],
    )


async def stats_page(request: Request) -> Response:
    web = state(request)
    stats = await web.gateway.call(token_of(request), lambda c: c.stats())
    if wants_json(request):
        return json_response(stats)
    return render(request, "stats.html", stats=stats)
