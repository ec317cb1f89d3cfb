"""Bytes the browser fetches: the video file (HTTP Range over ReadVideo), scene thumbnails
(GetThumbnail, cacheable) and clip downloads (ExportClip). Only ids come from the URL: the
server resolves them to files, so no request can name a path."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from scenesearch.client.remote import VideoStream
from scenesearch.client.web.common import number, state, token_of
from scenesearch.client.web.gateway import WebError
from scenesearch.client.web.ranges import ByteRange, Unsatisfiable, parse_range

# Thumbnails of a scene never change, but a scene id can come back after its video is
# deleted and another ingested, so caches revalidate by ETag after an hour.
THUMB_CACHE = "private, max-age=3600"
UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
# Query images are shown back only as one of these types, told by their first bytes.
IMAGE_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


async def video_file(request: Request) -> Response:
    web = state(request)
    token = token_of(request)
    video_id: int = request.path_params["video_id"]
    video = (await web.gateway.call(token, lambda c: c.get_video(video_id))).video
    if not video.playable:
        raise WebError(
            404,
            "This video cannot be played",
            "The server does not keep its file (it was uploaded with --discard-uploads, or "
            "its file has gone).",
        )
    size = video.size_bytes
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-transform"}
    try:
        wanted = parse_range(request.headers.get("range"), size, web.config.open_range_bytes)
    except Unsatisfiable:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    span = wanted or ByteRange(0, size - 1)
    if wanted is not None:
        headers["Content-Range"] = span.content_range(size)
    status = 206 if wanted is not None else 200
    if size == 0:
        return Response(b"", status_code=200, headers=headers, media_type="video/mp4")
    if request.method == "HEAD":
        headers["Content-Length"] = str(span.length)
        return Response(status_code=status, headers=headers, media_type="video/mp4")
    stream = await web.gateway.call(
        token, lambda c: c.read_video(video_id, span.start, span.length)
    )
    headers["Content-Length"] = str(span.length)
    return StreamingResponse(
        closing(stream, span.length),
        status_code=status,
        headers=headers,
        media_type=stream.content_type or "video/mp4",
    )


def closing(stream: VideoStream, length: int) -> Iterator[bytes]:
    """The stream's chunks, at most `length` bytes; closing the generator (the browser went
    away) closes the client's iterator, which cancels the gRPC stream."""
    left = length
    try:
        for chunk in stream.chunks:
            if left <= 0:
                break
            piece = chunk[:left]
            left -= len(piece)
            yield piece
    finally:
        close = getattr(stream.chunks, "close", None)
        if close is not None:
            close()


async def thumbnail(request: Request) -> Response:
    web = state(request)
    scene_id: int = request.path_params["scene_id"]
    thumb = await web.gateway.call(token_of(request), lambda c: c.thumbnail(scene_id))
    etag = '"' + hashlib.sha256(thumb.jpeg).hexdigest()[:24] + '"'
    headers = {"Cache-Control": THUMB_CACHE, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(thumb.jpeg, media_type="image/jpeg", headers=headers)


async def scene_clip(request: Request) -> Response:
    web = state(request)
    scene_id: int = request.path_params["scene_id"]
    clip = await web.gateway.call(token_of(request), lambda c: c.export_clip(scene_id))
    return attachment(clip.data, clip.filename or f"scene-{scene_id}.mp4")


async def video_clip(request: Request) -> Response:
    web = state(request)
    video_id: int = request.path_params["video_id"]
    start = number(request.query_params.get("start"), "start", 0.0, 0.0, 1e9)
    end = number(request.query_params.get("end"), "end", 0.0, 0.0, 1e9)
    if end and end <= start:
        raise WebError(400, "Bad parameter", "end must be after start (or 0 for the end)")
    clip = await web.gateway.call(
        token_of(request),
        lambda c: c.export_clip(video_id=video_id, start_s=start, end_s=end),
    )
    return attachment(clip.data, clip.filename or f"video-{video_id}.mp4")


def attachment(data: bytes, filename: str) -> Response:
    # The name comes from the server; it only names the download, and is reduced to
    # characters that need no quoting in a header.
    safe = UNSAFE_FILENAME.sub("_", filename.rsplit("/", 1)[-1]).strip("._") or "clip.mp4"
    if not safe.lower().endswith(".mp4"):
        safe += ".mp4"
    return Response(
        data,
        media_type="video/mp4",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


async def query_image(request: Request) -> Response:
    """A query image held by the web tier, shown above its results."""
    data = state(request).images.get(request.path_params["key"])
    kind = next((t for magic, t in IMAGE_MAGIC if data and data.startswith(magic)), None)
    if data is not None and kind is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "image/webp"
    if data is None or kind is None:
        raise WebError(404, "No such query image", "It has expired, or it is not a picture.")
    return Response(data, media_type=kind, headers={"Cache-Control": "private, max-age=3600"})
