"""The ASGI app: routes, templates, static assets, security headers, error pages.

Every failure becomes a page (or, for `.json` and `/api/` URLs, a JSON body) with a status
and a message; a server that wants a token sends the browser to the login form.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scenesearch.client.render import timestamp
from scenesearch.client.web import (
    analytics,
    auth,
    concepts,
    library,
    media,
    pages,
    search,
    temporal,
)
from scenesearch.client.web.common import HERE, WebConfig, WebState, render, wants_json
from scenesearch.client.web.gateway import Gateway, WebError

log = logging.getLogger(__name__)

# Everything is served by this app: the policy makes a stray CDN link fail loudly in tests.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; media-src 'self'; "
        b"object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class IdConvertor(Convertor[int]):
    """Ids in URLs: 1 to 18 digits, so every id fits the API's int64 and nothing else
    (dots, slashes, encoded or not) ever reaches a handler."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class SameOriginWrites:
    """Refuse a change (POST, DELETE) that another site's page sends. A web UI on loopback
    with no token has no cookie for SameSite to protect, so a page elsewhere could post a
    form to 127.0.0.1 (cross-site request forgery); browsers say where a request comes from
    (Sec-Fetch-Site, Origin), and only this site's own pages may change anything."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            site = headers.get("sec-fetch-site")
            origin = headers.get("origin")
            own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
            if (site is not None and site not in ("same-origin", "none")) or (
                site is None and origin not in (None, "null", own)
            ):
                response = JSONResponse(
                    {"error": "Refused", "message": "changes come from this site's pages only"},
                    status_code=403,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


def routes() -> list[BaseRoute]:
    video = "/videos/{video_id:id}"
    return [
        Route("/", search.search_page),
        Route("/search.json", search.search_page),
        Route("/search/image", search.search_image, methods=["POST"]),
        Route("/when", temporal.when_page),
        Route("/when.json", temporal.when_page),
        Route("/concepts", concepts.concepts_page),
        Route("/concepts.json", concepts.concepts_page),
        Route("/concepts", concepts.save_concept, methods=["POST"]),
        Route("/concept", concepts.concept_page),
        Route("/concept.json", concepts.concept_page),
        Route("/concept/delete", concepts.delete_concept, methods=["POST"]),
        Route("/api/concept", concepts.delete_concept, methods=["DELETE"]),
        Route("/search/image/{key}", media.query_image),
        Route(video, pages.video_page),
        Route(video + ".json", pages.video_page),
        Route(video + "/file", media.video_file, methods=["GET", "HEAD"]),
        Route(video + "/clip", media.video_clip),
        Route(video + "/delete", library.delete_video, methods=["POST"]),
        Route("/api" + video, library.delete_video, methods=["DELETE"]),
        Route("/api" + video + "/timeline", analytics.timeline, methods=["POST"]),
        Route("/api" + video + "/classify", analytics.classify, methods=["POST"]),
        Route("/scenes/{scene_id:id}/thumbnail.jpg", media.thumbnail),
        Route("/scenes/{scene_id:id}/clip", media.scene_clip),
        Route("/library", pages.library_page),
        Route("/library.json", pages.library_page),
        Route("/library/table", pages.library_page),
        Route("/library/upload", library.upload, methods=["POST"]),
        Route("/library/ingest", library.ingest_path, methods=["POST"]),
        Route("/jobs/{job_id}", library.job_status),
        Route("/jobs/{job_id}/events", library.job_events),
        Route("/stats", pages.stats_page),
        Route("/stats.json", pages.stats_page),
        Route("/login", auth.login_form),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def error_response(request: Request, exc: WebError) -> Response:
    if wants_json(request):
        body = {"error": exc.title, "message": exc.message, "code": exc.code}
        return JSONResponse(body, status_code=exc.status)
    if exc.status == 401 and request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)
    return render(request, "error.html", exc.status, error=exc)


async def on_web_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebError)
    return error_response(request, exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {404: "No such page", 405: "Not allowed here"}
    error = WebError(exc.status_code, titles.get(exc.status_code, "Bad request"), exc.detail)
    if exc.status_code == 404:
        error.message = "Nothing lives at this address. Start from the search page."
    return error_response(request, error)


async def on_crash(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    error = WebError(500, "Something went wrong in the web UI", "The details are in its log.")
    return error_response(request, error)


def templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["hms"] = timestamp
    env.filters["clock"] = clock
    env.filters["size"] = human_size
    return Jinja2Templates(env=env)


def clock(seconds: float) -> str:
    """Short time for cards: M:SS.s, or H:MM:SS past an hour."""
    seconds = max(0.0, seconds)
    minutes, secs = divmod(seconds, 60)
    if minutes >= 60:
        return f"{int(minutes // 60)}:{int(minutes % 60):02d}:{int(secs):02d}"
    return f"{int(minutes)}:{secs:04.1f}"


def human_size(size: Any) -> str:
    value = float(size or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def create_app(config: WebConfig) -> Starlette:
    web = WebState(config, Gateway(config.target), templates())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        web.gateway.close()

    app = Starlette(
        routes=routes(),
        exception_handlers={
            WebError: on_web_error,
            HTTPException: on_http_error,
            Exception: on_crash,
        },
        lifespan=lifespan,
    )
    app.state.web = web
    app.add_middleware(SameOriginWrites)
    # Only names of this machine reach the UI: a page on another site cannot rebind its own
    # domain name to 127.0.0.1 and read the library (DNS rebinding).
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(config.allowed_hosts))
    app.add_middleware(SecurityHeaders)
    return app
