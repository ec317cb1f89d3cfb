"""The web tier over HTTP (Starlette's TestClient) against a real gRPC server: Range
requests, thumbnails, clips, uploads with their event stream, every error path, the token
login, and no way to reach a file by naming it."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
from starlette.testclient import TestClient

from scenesearch.client.remote import SceneSearchClient
from scenesearch.client.web.library import safe_filename
from scenesearch.client.web.ranges import ByteRange, Unsatisfiable, parse_range
from scenesearch.server.app import RunningServer
from tests.helpers import frame_png, ingest
from tests.support.synthetic import WrittenVideo, write_video
from tests.support.web import (
    OPEN_RANGE,
    WebStack,
    sse_events,
    write_gop_video,
)


@pytest.fixture()
def running(stack: WebStack) -> RunningServer:
    return stack.server


# --- Range ------------------------------------------------------------------------------


def test_parse_range_rules() -> None:
    assert parse_range(None, 1000, 100) is None
    assert parse_range("bytes=0-9", 1000, 100) == ByteRange(0, 9)
    assert parse_range("bytes=990-2000", 1000, 100) == ByteRange(990, 999)
    assert parse_range("bytes=500-", 1000, 100) == ByteRange(500, 599)
    assert parse_range("bytes=-10", 1000, 100) == ByteRange(990, 999)
    assert parse_range("bytes=-5000", 1000, 100) == ByteRange(0, 999)
    for ignored in ("bytes=0-1,4-5", "items=0-1", "bytes=9-3", "bytes=-", "bytes=a-b"):
        assert parse_range(ignored, 1000, 100) is None, ignored
    for bad in ("bytes=1000-", "bytes=1000-1001", "bytes=-0"):
        with pytest.raises(Unsatisfiable):
            parse_range(bad, 1000, 100)
    assert ByteRange(5, 9).content_range(10) == "bytes 5-9/10"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-1499", 1000, 1499),
        ("bytes=100-", 100, 100 + OPEN_RANGE - 1),
        ("bytes=-500", -500, -1),
        ("bytes=-10-", -10, -1),  # starts 10 bytes before the end; the cap is not reached
    ],
)
def test_range_answers_206_with_the_exact_bytes(
    web: TestClient, video_id: int, three_scenes: WrittenVideo, header: str, first: int, last: int
) -> None:
    data = three_scenes.path.read_bytes()
    size = len(data)
    if header == "bytes=-10-":
        header = f"bytes={size - 10}-"
    start, end = first % size, last % size
    response = web.get(f"/videos/{video_id}/file", headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == end - start + 1
    assert response.content == data[start : end + 1]


def test_whole_file_without_range_and_head(
    web: TestClient, video_id: int, three_scenes: WrittenVideo
) -> None:
    data = three_scenes.path.read_bytes()
    response = web.get(f"/videos/{video_id}/file")
    assert response.status_code == 200 and response.content == data
    assert response.headers["accept-ranges"] == "bytes"
    # A Range we do not serve (several ranges, nonsense) is ignored: the whole file.
    for header in ("bytes=0-1,10-20", "bytes=nonsense"):
        again = web.get(f"/videos/{video_id}/file", headers={"Range": header})
        assert again.status_code == 200 and len(again.content) == len(data)
    head = web.head(f"/videos/{video_id}/file", headers={"Range": "bytes=10-19"})
    assert head.status_code == 206 and head.content == b""
    assert head.headers["content-range"] == f"bytes 10-19/{len(data)}"


@pytest.mark.parametrize("offset", [0, 1, 1000])
def test_range_past_the_end_is_416(
    web: TestClient, video_id: int, three_scenes: WrittenVideo, offset: int
) -> None:
    size = three_scenes.path.stat().st_size
    response = web.get(
        f"/videos/{video_id}/file", headers={"Range": f"bytes={size + offset}-{size + 5000}"}
    )
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


# --- thumbnails, clips, JSON twins ------------------------------------------------------


def test_thumbnails_are_jpeg_with_caching_headers(web: TestClient, video_id: int) -> None:
    detail = web.get(f"/videos/{video_id}.json").json()
    scene_id = detail["scenes"][1]["id"]
    response = web.get(f"/scenes/{scene_id}/thumbnail.jpg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.content[:3] == b"\xff\xd8\xff"
    assert "max-age" in response.headers["cache-control"]
    etag = response.headers["etag"]
    again = web.get(f"/scenes/{scene_id}/thumbnail.jpg", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


def test_clip_download_is_an_mp4_of_the_scene_within_one_gop(
    web: TestClient, running: RunningServer, media_root: Path
) -> None:
    # Cuts at 2.2 s and 3.7 s fall between keyframes (every 0.5 s): a stream copy starts at
    # the keyframe before the scene, so the clip may be longer by less than one GOP.
    path = media_root / "gop.mp4"
    gop_s = write_gop_video(path, [2.2, 1.5, 2.3])
    with SceneSearchClient(f"127.0.0.1:{running.port}", timeout_s=60) as client:
        gop_id = ingest(client, path)
        try:
            scene = web.get(f"/videos/{gop_id}.json").json()["scenes"][1]
            response = web.get(f"/scenes/{scene['id']}/clip")
            span = web.get(f"/videos/{gop_id}/clip?start=1&end=2")
        finally:
            client.delete_video(gop_id)
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.mp4"')
    with av.open(io.BytesIO(response.content)) as clip:
        assert "mp4" in clip.format.name
        duration = float(clip.duration or 0) / av.time_base
    expected = scene["end_s"] - scene["start_s"]
    assert expected - 1 / 30 <= duration <= expected + gop_s + 1 / 30, (duration, expected)
    assert span.status_code == 200 and span.content[4:8] == b"ftyp"


def test_pages_and_their_json_twins(web: TestClient, video_id: int) -> None:
    for page, twin in (
        ("/", "/search.json"),
        ("/library", "/library.json"),
        ("/stats", "/stats.json"),
    ):
        assert web.get(page).status_code == 200
        assert web.get(twin).status_code == 200
    found = web.get("/search.json?q=a+square&top_k=2").json()
    assert len(found["results"]["hits"]) == 2
    html = web.get("/?q=a+square&top_k=2").text
    assert html.count('class="card"') == 2 and f"/videos/{video_id}?t=" in html
    # "More like this": a scene's neighbours, its own video's other scenes left out on request.
    scene_id = found["results"]["hits"][0]["scene_id"]
    like = web.get(f"/search.json?scene={scene_id}").json()["results"]["hits"]
    assert len(like) == 2 and scene_id not in {h["scene_id"] for h in like}  # not itself
    assert web.get(f"/search.json?scene={scene_id}&exclude=1").json()["results"]["hits"] == []
    assert "Scenes like scene" in web.get(f"/?scene={scene_id}").text
    assert [v["id"] for v in web.get("/library.json").json()] == [video_id]
    assert web.get("/stats.json").json()["video_count"] == 1
    video_page = web.get(f"/videos/{video_id}?t=2.5")
    assert video_page.status_code == 200 and 'data-start="2.500"' in video_page.text
    assert "default-src 'self'" in video_page.headers["content-security-policy"]


def test_image_query_gets_a_linkable_url(
    web: TestClient, video_id: int, three_scenes: WrittenVideo
) -> None:
    png = frame_png(three_scenes, 2.5)
    posted = web.post("/search/image", files={"image": ("q.png", png)}, data={"top_k": "3"})
    assert posted.status_code == 303
    url = posted.headers["location"]
    assert url.startswith("/?image=") and "top_k=3" in url
    page = web.get(url)
    assert page.status_code == 200 and page.text.count('class="card"') == 3
    hits = web.get(url.replace("/?", "/search.json?")).json()["results"]["hits"]
    assert (hits[0]["video_id"], hits[0]["scene_index"]) == (video_id, 1)
    key = url.split("image=")[1].split("&")[0]
    shown = web.get(f"/search/image/{key}")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"


# --- uploads and their progress ---------------------------------------------------------


def test_upload_streams_progress_then_delete(web: TestClient, tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", [1.0, 1.5], seed=31)
    with open(video.path, "rb") as fh:
        started = web.post(
            "/library/upload",
            files={"file": ("../../../evil name?.mp4", fh, "video/mp4")},
            headers={"Accept": "application/json"},
        )
    assert started.status_code == 202, started.text
    events = list(sse_events(web, started.json()["events"]))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "sent" and "progress" in kinds and kinds[-1] == "done"
    assert events[-2][1]["stage"] == "done" and events[-2][1]["fraction"] == 1.0
    new_id = events[-1][1]["video_id"]
    listed = {v["id"]: v for v in web.get("/library.json").json()}
    assert listed[new_id]["path"] == "upload:evil name_.mp4"
    assert listed[new_id]["playable"]
    # A form POST without confirm=yes only asks; the JSON API and confirm=yes delete.
    asked = web.post(f"/videos/{new_id}/delete")
    assert asked.status_code == 200 and "cannot be undone" in asked.text
    assert new_id in {v["id"] for v in web.get("/library.json").json()}
    done = web.post(f"/videos/{new_id}/delete", data={"confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == f"/library?deleted={new_id}"
    assert web.get(f"/videos/{new_id}").status_code == 404
    assert web.delete(f"/api/videos/{new_id}").status_code == 404


def test_a_failed_ingest_ends_its_stream_with_the_reason(web: TestClient) -> None:
    for path in ("/etc/passwd", "../../../etc/passwd"):
        started = web.post(
            "/library/ingest", data={"path": path}, headers={"Accept": "application/json"}
        )
        assert started.status_code == 202
        events = list(sse_events(web, started.json()["events"]))
        kind, data = events[-1]
        assert kind == "failed" and data["code"] in ("PERMISSION_DENIED", "INVALID_ARGUMENT")
    # EventSource reconnecting with Last-Event-ID resumes after that event.
    url = started.json()["events"]
    last = str(len(events) - 2)
    with web.stream("GET", url, headers={"Last-Event-ID": last}) as again:
        body = again.read().decode()
    assert body.count("event: ") == 1 and "event: failed" in body
    with web.stream("GET", url, headers={"Last-Event-ID": str(len(events) - 1)}) as again:
        assert again.read() == b""


def test_safe_filename() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\me\\trip.MOV") == "trip.MOV"
    assert safe_filename("..") == "upload"
    assert safe_filename("a b;rm -rf.mp4") == "a b_rm -rf.mp4"
    assert "/" not in safe_filename("x/" * 300) and len(safe_filename("y" * 500)) <= 100


# --- error paths: a status and a message, never a trace ---------------------------------


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/videos/999", 404),
        ("GET", "/videos/999/file", 404),
        ("GET", "/videos/999/clip", 404),
        ("GET", "/scenes/999999/thumbnail.jpg", 404),
        ("GET", "/scenes/999999/clip", 404),
        ("GET", "/no/such/page", 404),
        ("GET", "/?top_k=abc", 400),
        ("GET", "/?top_k=5000", 400),
        ("GET", "/?min_score=2", 400),
        ("GET", "/?video=x", 400),
        ("GET", "/?scene=999999", 404),
        ("GET", "/?image=0123456789abcdef0123456789abcdef", 404),
        ("GET", "/videos/1?t=-3", 400),
        ("GET", "/videos/1/clip?start=3&end=2", 400),
        ("GET", "/jobs/nope/events", 404),
        ("GET", "/search/image/nope", 404),
        ("POST", "/stats", 405),
        ("POST", "/search/image", 400),
        ("POST", "/library/upload", 400),
        ("POST", "/library/ingest", 400),
        ("POST", "/api/videos/1/timeline", 400),
        ("POST", "/api/videos/999/timeline?x", 400),
    ],
)
def test_error_paths_have_a_status_and_a_message(
    web: TestClient, video_id: int, method: str, url: str, status: int
) -> None:
    response = web.request(method, url, files={"unused": ("a", b"")} if method == "POST" else None)
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    if response.headers["content-type"].startswith("text/html"):
        assert "<h1>" in response.text or 'class="notice bad"' in response.text


def test_error_statuses_in_json(web: TestClient, video_id: int) -> None:
    missing = web.get("/videos/999.json")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND" and "999" in missing.json()["message"]
    unknown = web.post("/api/videos/999/timeline", data={"prompts": "a cat"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"
    assert web.get("/search.json?top_k=0").status_code == 400


def test_a_bad_image_is_a_message_on_the_search_page(web: TestClient, video_id: int) -> None:
    posted = web.post("/search/image", files={"image": ("x.png", b"not an image at all")})
    page = web.get(posted.headers["location"])
    assert page.status_code == 400
    assert "That image could not be read" in page.text and 'name="q"' in page.text
    too_big = web.post("/search/image", files={"image": ("x.png", b"\x89PNG" + b"0" * 300_000)})
    assert too_big.status_code == 413


def test_upload_limit(web: TestClient) -> None:
    response = web.post(
        "/library/upload",
        files={"file": ("big.mp4", b"0" * 6_000_000)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413 and "bytes" in response.json()["message"]
