"""The login form for a server that needs a token: asked once, kept in an HttpOnly,
SameSite=Strict cookie (so no script can read it and no other site can send it), and
forwarded with every call as the gRPC bearer token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scenesearch.client.web.common import TOKEN_COOKIE, render, state
from scenesearch.client.web.gateway import WebError

COOKIE_DAYS = 7


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (no open redirect)."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(c in value for c in "\r\n\\")
    ):
        return "/"
    return value


async def login_form(request: Request) -> Response:
    return render(request, "login.html", next=safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=4)
    token = str(form.get("token", "")).strip()
    target = safe_next(str(form.get("next", "")))
    if not token:
        return render(request, "login.html", 400, next=target, error="Type the token.")
    try:
        # Any cheap call tells whether the server takes this token.
        await state(request).gateway.call(token, lambda c: c.stats())
    except WebError as exc:
        if exc.status != 401:
            raise
        return render(
            request, "login.html", 401, next=target, error="The server refused that token."
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        max_age=COOKIE_DAYS * 86400,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/", httponly=True, samesite="strict")
    return response
