"""What every handler shares: the app's state, the token, rendering, parameter checks."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.templating import Jinja2Templates

from scenesearch.client.web.gateway import Gateway, ServerTarget, WebError
from scenesearch.client.web.images import ImageCache
from scenesearch.client.web.jobs import JobTable

HERE = Path(__file__).resolve().parent
TOKEN_COOKIE = "scenesearch_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class WebConfig:
    target: ServerTarget
    max_upload_bytes: int = 4 * 1024**3
    max_image_bytes: int = 20 * 1024 * 1024
    # An open-ended Range (`bytes=N-`) is answered with at most this much (see ranges.py).
    open_range_bytes: int = 8 * 1024 * 1024
    spool_dir: Path | None = None  # where browser uploads wait; None: the system temp dir
    # Host names the UI answers to (Host header, port aside); "*" for any.
    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES


@dataclass
class WebState:
    config: WebConfig
    gateway: Gateway
    templates: Jinja2Templates
    jobs: JobTable = field(default_factory=JobTable)
    images: ImageCache = field(default_factory=ImageCache)


def state(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


def token_of(request: Request) -> str | None:
    return request.cookies.get(TOKEN_COOKIE) or None


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("server_address", state(request).config.target.address)
    context.setdefault("logged_in", token_of(request) is not None)
    return state(request).templates.TemplateResponse(request, template, context, status_code=status)


def plain(value: Any) -> Any:
    """Dataclasses, lists and dicts as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return None  # images and media are served by their own URLs, never inlined
    return value


def json_response(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(plain(value), status_code=status)


def wants_json(request: Request) -> bool:
    path = request.url.path
    return (
        path.endswith(".json")
        or path.startswith("/api/")
        or path.startswith("/jobs/")
        or "application/json" in request.headers.get("accept", "")
    )


def number(
    raw: str | None, name: str, default: float, lo: float, hi: float, integer: bool = False
) -> float:
    """A bounded number from a query or form field; 400 with the field's name otherwise."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise WebError(400, "Bad parameter", f"{name} must be a number, not {raw!r}") from None
    if not (lo <= value <= hi) or not math.isfinite(value):
        raise WebError(400, "Bad parameter", f"{name} must be between {lo:g} and {hi:g}")
    return value


def ids(raws: list[str], name: str) -> list[int]:
    """Ids from repeated query fields: digits only, so no value is ever a path."""
    out = []
    for raw in raws:
        if raw == "":
            continue
        if not raw.isdigit() or len(raw) > 18:
            raise WebError(400, "Bad parameter", f"{name} must be a video id, not {raw!r}")
        out.append(int(raw))
    return out
