"""Changes to the library from the browser: upload, ingest by server path, delete; and the
server-sent events that carry an ingest's progress to the page."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from scenesearch.client.web.common import render, state, token_of, wants_json
from scenesearch.client.web.gateway import WebError
from scenesearch.client.web.jobs import Job, ingest_work, upload_work
from scenesearch.client.web.pages import display_name

SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
POLL_S = 0.1
KEEPALIVE_S = 15.0


def safe_filename(name: str) -> str:
    """The browser's file name reduced to a plain name: it only names the spooled copy (and
    the server's record of the upload), so no directory part or odd character survives."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = SAFE_NAME.sub("_", base).strip(" .") or "upload"
    stem, dot, suffix = base.rpartition(".")
    if dot and len(suffix) <= 8:
        return f"{stem[:100] or 'upload'}.{suffix}"
    return base[:100]


def started(request: Request, job: Job) -> Response:
    if wants_json(request):
        return JSONResponse({"job": job.id, "events": f"/jobs/{job.id}/events"}, status_code=202)
    return RedirectResponse(f"/library?job={job.id}", status_code=303)


async def upload(request: Request) -> Response:
    web = state(request)
    limit = web.config.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 1024 * 1024:
        raise WebError(413, "The file is too big", f"This web UI takes up to {limit} bytes.")
    form = await request.form(max_files=1, max_fields=4)
    upload_file = form.get("file")
    if not isinstance(upload_file, UploadFile) or not upload_file.filename:
        raise WebError(400, "No file", "Choose a video file to upload.")
    spool = Path(tempfile.mkdtemp(prefix="scenesearch-web-", dir=web.config.spool_dir))
    target = spool / safe_filename(upload_file.filename)
    try:
        await run_in_threadpool(copy_limited, upload_file, target, limit)
    except BaseException:
        shutil.rmtree(spool, ignore_errors=True)
        raise
    finally:
        await form.close()
    client = web.gateway.client(token_of(request))
    job = web.jobs.start(target.name, upload_work(client, target))
    return started(request, job)


def copy_limited(source: UploadFile, target: Path, limit: int) -> None:
    copied = 0
    source.file.seek(0)
    with open(target, "wb") as out:
        while chunk := source.file.read(1024 * 1024):
            copied += len(chunk)
            if copied > limit:
                raise WebError(
                    413, "The file is too big", f"This web UI takes up to {limit} bytes."
                )
            out.write(chunk)
    if copied == 0:
        raise WebError(400, "The file is empty", "Choose a video file to upload.")


async def ingest_path(request: Request) -> Response:
    web = state(request)
    form = await request.form(max_files=0, max_fields=4)
    path = str(form.get("path", "")).strip()
    if not path or "\x00" in path:
        raise WebError(400, "No path", "Type the path of a video on the server's machine.")
    # The path is only passed on: the gRPC server checks it against its media roots.
    client = web.gateway.client(token_of(request))
    job = web.jobs.start(path.rsplit("/", 1)[-1] or path, ingest_work(client, path))
    return started(request, job)


async def job_events(request: Request) -> Response:
    job = state(request).jobs.get(request.path_params["job_id"])
    if job is None:
        raise WebError(404, "No such job", "It finished long ago, or the web UI restarted.")
    last = request.headers.get("last-event-id", "")
    start = int(last) + 1 if last.isdigit() else 0
    return StreamingResponse(
        sse(job, start, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def sse(job: Job, index: int, request: Request) -> AsyncIterator[str]:
    idle = 0.0
    while True:
        for event in job.since(index):
            yield f"id: {index}\nevent: {event['event']}\ndata: {json.dumps(event)}\n\n"
            index += 1
            idle = 0.0
            if event["event"] in ("done", "failed"):
                return
        if job.finished_at is not None and not job.since(index):
            return  # resumed after the last event (a reconnect): nothing more will come
        if await request.is_disconnected():
            return
        await anyio.sleep(POLL_S)
        idle += POLL_S
        if idle >= KEEPALIVE_S:  # a comment line keeps proxies from closing a quiet stream
            idle = 0.0
            yield ": keepalive\n\n"


async def job_status(request: Request) -> Response:
    job = state(request).jobs.get(request.path_params["job_id"])
    if job is None:
        raise WebError(404, "No such job", "It finished long ago, or the web UI restarted.")
    return JSONResponse({"job": job.id, "name": job.name, "events": job.since(0)})


async def delete_video(request: Request) -> Response:
    """DELETE (the JSON API) deletes; a form POST deletes only with confirm=yes, which the
    page's confirm dialog sets, and otherwise shows a confirmation page (no script needed)."""
    web = state(request)
    video_id: int = request.path_params["video_id"]
    if request.method == "POST":
        form = await request.form(max_files=0, max_fields=4)
        if form.get("confirm") != "yes":
            token = token_of(request)
            video = (await web.gateway.call(token, lambda c: c.get_video(video_id))).video
            return render(request, "confirm.html", video=video, name=display_name(video.path))
    removed = await web.gateway.call(token_of(request), lambda c: c.delete_video(video_id))
    if request.method == "DELETE" or wants_json(request):
        return JSONResponse({"video_id": video_id, "scenes_removed": removed})
    return RedirectResponse(f"/library?deleted={video_id}", status_code=303)
