"""The pages people read: search, a video, the library, the stats; each with a JSON twin.

A page URL holds its whole query (text, image key, scene, filters), so results can be
linked and the back button works; `.json` on the same URL gives the same data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scenesearch.client.remote import Hit, SceneSearchClient, SearchResults, VideoInfo
from scenesearch.client.web.common import ids as id_list
from scenesearch.client.web.common import (
    json_response,
    number,
    render,
    state,
    token_of,
    wants_json,
)
from scenesearch.client.web.gateway import WebError
from scenesearch.contract import DEFAULT_TOP_K

JOB_ID = re.compile(r"[^A-Za-z0-9_-]")
MAX_TOP_K = 1000  # the server's bound; checked here too so the message names the field


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str = ""
    image: str = ""  # a key into the ImageCache
    scene: int | None = None
    videos: tuple[int, ...] = ()
    min_score: float | None = None
    top_k: int = DEFAULT_TOP_K
    exclude_same_video: bool = False

    @property
    def empty(self) -> bool:
        return not (self.text or self.image or self.scene is not None)


def parse_query(request: Request) -> SearchQuery:
    params = request.query_params
    scene = id_list([params.get("scene", "")], "scene")
    min_score = params.get("min_score", "")
    return SearchQuery(
        text=params.get("q", "").strip()[:2000],
        image=params.get("image", ""),
        scene=scene[0] if scene else None,
        videos=tuple(id_list(params.getlist("video"), "video")),
        min_score=number(min_score, "min score", 0.0, -1.0, 1.0) if min_score else None,
        top_k=int(number(params.get("top_k"), "top k", DEFAULT_TOP_K, 1, MAX_TOP_K, True)),
        exclude_same_video=params.get("exclude") in ("1", "on", "true"),
    )


def run_search(client: SceneSearchClient, query: SearchQuery, image: bytes) -> SearchResults:
    common: dict[str, Any] = {
        "top_k": query.top_k,
        "video_ids": query.videos,
        "min_score": query.min_score,
    }
    if query.scene is not None:
        return client.search_scene(
            query.scene, exclude_same_video=query.exclude_same_video, **common
        )
    if query.image:
        return client.search_image(image, **common)
    return client.search_text(query.text, **common)


async def search_page(request: Request) -> Response:
    web = state(request)
    query = parse_query(request)
    token = token_of(request)
    videos: list[VideoInfo] = await web.gateway.call(token, lambda c: c.list_videos())
    image = b""
    if query.image:
        image = web.images.get(query.image) or b""
        if not image:
            raise WebError(
                404,
                "This image query has expired",
                "The web UI keeps recent query images in memory only; pick the image again.",
            )
    results: SearchResults | None = None
    error: WebError | None = None
    if not query.empty:
        try:
            results = await web.gateway.call(token, lambda c: run_search(c, query, image))
        except WebError as exc:
            if exc.status in (401, 503) or wants_json(request):
                raise  # the login form, or the server-down page
            if exc.status == 400 and query.image:
                exc.title = "That image could not be read"
            error = exc  # shown above the form, which stays usable
    if wants_json(request):
        return json_response({"query": query, "results": results, "videos": len(videos)})
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
        results=results,
        hits=[hit_view(h) for h in results.hits] if results else [],
        videos=videos,
        names={v.id: display_name(v.path) for v in videos},
        filters_open=bool(query.videos or query.min_score is not None)
        or query.top_k != DEFAULT_TOP_K,
        message=message,
        error=error,
        seed=seed_view(query),
    )


def seed_view(query: SearchQuery) -> dict[str, Any] | None:
    """The scene a "more like this" search starts from, shown above its results."""
    if query.scene is None:
        return None
    return {"scene_id": query.scene, "thumbnail": f"/scenes/{query.scene}/thumbnail.jpg"}


def hit_view(hit: Hit) -> dict[str, Any]:
    return {
        "hit": hit,
        "name": display_name(hit.video_path),
        "thumbnail": f"/scenes/{hit.scene_id}/thumbnail.jpg",
        "play": f"/videos/{hit.video_id}?t={hit.best_time_s:.3f}&scene={hit.scene_id}",
        "clip": f"/scenes/{hit.scene_id}/clip",
        "more": f"/?scene={hit.scene_id}",
    }


def display_name(path: str) -> str:
    """The file name of a server path (or of an upload, "upload:NAME"), for display only:
    never used to open anything."""
    return path.removeprefix("upload:").replace("\\", "/").rsplit("/", 1)[-1] or path


async def video_page(request: Request) -> Response:
    web = state(request)
    video_id: int = request.path_params["video_id"]
    detail = await web.gateway.call(token_of(request), lambda c: c.get_video(video_id))
    if wants_json(request):
        return json_response(detail)
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


async def search_image(request: Request) -> Response:
    """Take a picked, dropped or pasted image; redirect to a URL that names it by key."""
    web = state(request)
    limit = web.config.max_image_bytes
    form = await request.form(max_files=1, max_fields=16)
    image = form.get("image")
    data = await image.read(limit + 1) if isinstance(image, UploadFile) else b""
    await form.close()
    if len(data) > limit:
        raise WebError(413, "The image is too big", f"Query images can be up to {limit} bytes.")
    if not data:
        raise WebError(400, "No image", "Pick, drop or paste an image to search with.")
    params: list[tuple[str, str]] = [("image", web.images.put(data))]
    for name in ("top_k", "min_score"):
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            params.append((name, value.strip()))
    params += [("video", str(v)) for v in id_list([str(v) for v in form.getlist("video")], "video")]
    return RedirectResponse("/?" + urlencode(params), status_code=303)
