"""Timeline and classify for the video page: a form of prompts in, JSON out (the page's
script draws it). Prompts are lines of text and, optionally, example images and saved
concepts (by name)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from scenesearch.client.web.common import json_response, number, state, token_of
from scenesearch.client.web.gateway import WebError
from scenesearch.client.web.terms import MAX_CONCEPT_NAME

MAX_PROMPTS = 64  # the server's bound
MAX_IMAGES = 8


@dataclass(frozen=True, slots=True)
class Prompts:
    texts: list[str]
    images: list[bytes]
    concepts: list[str]


async def read_prompts(request: Request) -> tuple[FormData, Prompts]:
    limit = state(request).config.max_image_bytes
    form = await request.form(max_files=MAX_IMAGES, max_fields=16 + MAX_PROMPTS)
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
    concepts = list(dict.fromkeys(str(v).strip() for v in form.getlist("concepts")))
    concepts = [c for c in concepts if c]
    if any(len(c) > MAX_CONCEPT_NAME for c in concepts):
        raise WebError(
            400, "Bad concept", f"Concept names are at most {MAX_CONCEPT_NAME} characters."
        )
    if not texts and not images and not concepts:
        raise WebError(
            400, "No prompts", "Type at least one prompt, add an example image or pick a concept."
        )
    if len(texts) + len(images) + len(concepts) > MAX_PROMPTS:
        raise WebError(400, "Too many prompts", f"At most {MAX_PROMPTS}.")
    return form, Prompts(texts, images, concepts)


async def timeline(request: Request) -> Response:
    video_id: int = request.path_params["video_id"]
    form, p = await read_prompts(request)
    smooth = int(number(_field(form, "smooth"), "smoothing", 0, 0, 1000, True))
    raw_threshold = _field(form, "threshold")
    threshold = number(raw_threshold, "threshold", 0.0, -1.0, 1.0) if raw_threshold else None
    (result,) = await state(request).gateway.call(
        token_of(request),
        lambda c: c.timeline(
            [video_id],
            p.texts,
            p.images,
            smooth=smooth,
            threshold=threshold,
            prompt_concepts=p.concepts,
        ),
    )
    return json_response(result)


async def classify(request: Request) -> Response:
    video_id: int = request.path_params["video_id"]
    form, p = await read_prompts(request)
    null_prompt = (_field(form, "null_prompt") or "").strip()[:500]
    interval = number(_field(form, "interval"), "interval", 0.0, 0.0, 86400.0)
    min_visible = number(_field(form, "min_visible"), "min visible", 0.0, 0.0, 86400.0)
    (result,) = await state(request).gateway.call(
        token_of(request),
        lambda c: c.classify(
            [video_id],
            p.texts,
            p.images,
            null_prompt=null_prompt,
            prompt_concepts=p.concepts,
            interval_s=interval,
            min_visible_s=min_visible,
        ),
    )
    return json_response(result)


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None
