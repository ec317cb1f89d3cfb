"""The web tier's access rules over HTTP, against real gRPC servers: the token login, no
way to name a file through any URL or parameter, a server that is down or empty, files the
server does not keep, and the `scenesearch web` command itself."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from scenesearch.client.remote import SceneSearchClient
from scenesearch.server.app import start_server
from tests.conftest import make_settings
from tests.support.synthetic import write_video
from tests.support.web import web_app


def test_server_down_is_a_clear_503() -> None:
    with TestClient(web_app("127.0.0.1:1"), follow_redirects=False) as web:
        for url in ("/", "/library", "/stats", "/videos/1", "/scenes/1/thumbnail.jpg"):
            page = web.get(url)
            assert page.status_code == 503, url
            assert "cannot be reached" in page.text and "scenesearch serve" in page.text
        assert web.get("/stats.json").json()["code"] == "UNAVAILABLE"


def test_empty_library_and_unkept_files(tmp_path: Path, tiny_model: Path, media_root: Path) -> None:
    server = start_server(
        make_settings(tmp_path / "data", tiny_model, media_root, keep_uploads=False)
    )
    try:
        address = f"127.0.0.1:{server.port}"
        with TestClient(web_app(address), follow_redirects=False) as web:
            for url in ("/", "/?q=anything"):
                page = web.get(url)
                assert page.status_code == 200 and "The library is empty" in page.text
            assert "No videos yet" in web.get("/library").text
            video = write_video(tmp_path / "kept-not.mp4", [1.0, 1.0], seed=5)
            with SceneSearchClient(address, timeout_s=60) as client:
                new_id = client.upload(video.path).video_id
            file = web.get(f"/videos/{new_id}/file")
            assert file.status_code == 404 and "cannot be played" in file.text
            page = web.get(f"/videos/{new_id}")
            assert page.status_code == 200 and "does not keep this video" in page.text
    finally:
        server.stop(1.0)


# --- the token ----------------------------------------------------------------------------

TOKEN = "web-s3cret"


def test_token_login_flow(tmp_path: Path, tiny_model: Path, media_root: Path) -> None:
    server = start_server(make_settings(tmp_path / "d", tiny_model, media_root, auth_token=TOKEN))
    try:
        address = f"127.0.0.1:{server.port}"
        with TestClient(web_app(address), follow_redirects=False) as web:
            first = web.get("/library?x=1")
            assert first.status_code == 303
            assert first.headers["location"] == "/login?next=%2Flibrary%3Fx%3D1"
            assert web.get("/library.json").status_code == 401
            form = web.get(first.headers["location"])
            assert form.status_code == 200 and 'type="password"' in form.text
            wrong = web.post("/login", data={"token": "nope", "next": "/library"})
            assert wrong.status_code == 401 and "refused" in wrong.text
            assert "set-cookie" not in wrong.headers
            ok = web.post("/login", data={"token": TOKEN, "next": "/library?x=1"})
            assert ok.status_code == 303 and ok.headers["location"] == "/library?x=1"
            cookie = ok.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
            assert web.get("/library").status_code == 200
            assert web.get("/stats.json").json()["video_count"] == 0
            for evil in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
                away = web.post("/login", data={"token": TOKEN, "next": evil})
                assert away.headers["location"] == "/"
            out = web.post("/logout")
            assert out.status_code == 303 and "scenesearch_token=" in out.headers["set-cookie"]
            web.cookies.clear()
            assert web.get("/").status_code == 303
        # An operator's token (scenesearch web --token) serves every browser without a form.
        with TestClient(web_app(address, token=TOKEN), follow_redirects=False) as web:
            assert web.get("/library").status_code == 200
    finally:
        server.stop(1.0)


# --- nothing but ids reaches the server; nothing is read from a path ----------------------


@pytest.mark.parametrize(
    "url",
    [
        "/videos/..%2F..%2Fetc%2Fpasswd/file",
        "/videos/1%2F..%2F..%2Fetc%2Fpasswd/file",
        "/videos/1/file/../../../../etc/passwd",
        "/videos/%2e%2e/file",
        "/videos/1.5/file",
        "/videos/-1/file",
        "/videos/99999999999999999999999/file",
        "/scenes/..%2F1/thumbnail.jpg",
        "/scenes/1/thumbnail.jpg/..%2F..%2Fapp.py",
        "/static/../app.py",
        "/static/..%2Fapp.py",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%5c..%5capp.py",
        "/search/image/..%2F..%2Fetc%2Fpasswd",
        "/jobs/..%2F..%2Fetc%2Fpasswd/events",
        "/?image=../../../etc/passwd",
        "/?video=../../etc/passwd",
        "/?scene=/etc/passwd",
        "/videos/1?scene=../../etc/passwd",
        "/etc/passwd",
        "//etc/passwd",
    ],
)
def test_no_path_traversal(web: TestClient, video_id: int, url: str) -> None:
    response = web.get(url)
    assert response.status_code in (400, 404), (url, response.status_code)
    assert "root:" not in response.text and "import " not in response.text


def test_other_sites_cannot_change_or_read_anything(web: TestClient, video_id: int) -> None:
    delete = f"/videos/{video_id}/delete"
    for headers in (
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:9999"},
    ):
        refused = web.post(delete, data={"confirm": "yes"}, headers=headers)
        assert refused.status_code == 403, headers
    assert web.get(f"/videos/{video_id}.json").status_code == 200  # still there
    # This site's own pages may post (the confirmation page is harmless to show).
    own = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert web.post(delete, headers=own).status_code == 200
    # A page that rebinds its name to 127.0.0.1 still sends its own Host: refused.
    assert web.get("/library.json", headers={"Host": "evil.example"}).status_code == 400


def test_the_cli_serves_the_ui_and_prints_its_url() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scenesearch.client.web",
            "--server",
            "127.0.0.1:1",
            "--listen",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "web UI on http://127.0.0.1:" in line, line
        url = line.split(" on ")[1].split()[0]
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(url, timeout=10)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert page.status_code == 503 and "cannot be reached" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
