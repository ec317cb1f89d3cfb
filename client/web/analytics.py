"""Timeline and classify for the video page: a form of prompts in, JSON out (the page's
script draws it). Prompts are lines of text and, optionally, example images."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from scenesearch.client.web.common import json_response, number, state, token_of
from scenesearch.client.web.gateway import WebError

MAX_PROMPTS = 64  # the server's bound
MAX_IMAGES = 8


async def read_prompts(request: Request) -> tuple[FormData, list[str], list[bytes]]:
    limit = state(request).config.max_image_bytes
    form = await request.form(max_files=MAX_IMAGES, max_fields=16)
    texts = [
        line.strip()
        for value in form.getlist("prompts")
        for line in str(value).splitlines()
        if line.strip()
    ]
    images: list[bytes] = []
    for value in form.getlist("images"):
        if isinstance(value, UploadFile) and value.filename:
            data = await value.read(limit + 1)
            if len(data) > limit:
                raise WebError(413, "The image is too big", f"Up to {limit} bytes per image.")
            if data:
                images.append(data)
    if not texts and not images:
        raise WebError(400, "No prompts", "Type at least one prompt, or add an example image.")
    if len(texts) + len(images) > MAX_PROMPTS:
        raise WebError(400, "Too many prompts", f"At most {MAX_PROMPTS}.")
    return form, texts, images


async def timeline(request: Request) -> Response:
    video_id: int = request.path_params["video_id"]
    form, texts, images = await read_prompts(request)
    smooth = int(number(_field(form, "smooth"), "smoothing", 0, 0, 1000, True))
    raw_threshold = _field(form, "threshold")
    threshold = number(raw_threshold, "threshold", 0.0, -1.0, 1.0) if raw_threshold else None
    (result,) = await state(request).gateway.call(
        token_of(request),
        lambda c: c.timeline([video_id], texts, images, smooth=smooth, threshold=threshold),
    )
    return json_response(result)


async def classify(request: Request) -> Response:
    video_id: int = request.path_params["video_id"]
    form, texts, images = await read_prompts(request)
    null_prompt = (_field(form, "null_prompt") or "").strip()[:500]
    interval = number(_field(form, "interval"), "interval", 0.0, 0.0, 86400.0)
    min_visible = number(_field(form, "min_visible"), "min visible", 0.0, 0.0, 86400.0)
    (result,) = await state(request).gateway.call(
        token_of(request),
        lambda c: c.classify(
            [video_id],
            texts,
            images,
            null_prompt=null_prompt,
            interval_s=interval,
            min_visible_s=min_visible,
        ),
    )
    return json_response(result)


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None
