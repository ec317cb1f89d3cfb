"""The web UI in a real browser (Debian's chromium driven by Playwright), against a real
server with the tiny model, generated videos and the web tier on 127.0.0.1:0.

The browser loads nothing but this web tier: every other request is aborted and fails the
test. Screenshots of each page land in the test-artifacts folder (tests/support/web.py).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest

from scenesearch.client.remote import SceneSearchClient
from scenesearch.client.web.cli import RunningWeb, serve_in_thread
from scenesearch.server.app import start_server
from tests.conftest import make_settings
from tests.helpers import frame_png, ingest
from tests.support.synthetic import WrittenVideo, photo_slideshow, write_video
from tests.support.web import (
    CHROMIUM,
    artifacts_dir,
    publish_screenshot,
    web_app,
    write_gop_video,
)
from tests.web.browser import Browser, loopback_browser, shot, thumbnails_loaded

pytestmark = pytest.mark.slow
# `make` installs Debian's chromium and the dev extra installs Playwright: a missing one is a
# broken install, and the tests say so instead of skipping.
assert CHROMIUM.exists(), f"no browser at {CHROMIUM}: run make (it installs Debian's chromium)"


PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")  # public-domain, shipped with skimage
PHOTO_S = 2.5
STACK_PHOTOS: dict[str, bytes] = {}  # filled by the stack fixture


@dataclass
class Stack:
    url: str
    address: str
    three_id: int
    gop_id: int
    gop_s: float
    slides_id: int
    scene_total: int
    photos: dict[str, bytes]  # PNG of each photo, as a query or prompt image


def photo_pngs() -> dict[str, npt.NDArray[np.uint8]]:
    from skimage import data

    pictures = {name: getattr(data, name)() for name in PHOTOS}
    return {n: p if p.ndim == 3 else np.stack([p] * 3, axis=-1) for n, p in pictures.items()}


def png(picture: npt.NDArray[np.uint8]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture[..., :3]).resize((240, 160)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_model: Path,
    media_root: Path,
    three_scenes: WrittenVideo,
) -> Iterator[Stack]:
    server = start_server(make_settings(tmp_path_factory.mktemp("data"), tiny_model, media_root))
    address = f"127.0.0.1:{server.port}"
    gop_path = media_root / "browser_gop.mp4"
    gop_s = write_gop_video(gop_path, [2.2, 1.5, 2.3], seed=11)
    pictures = photo_pngs()
    slides = write_video(
        media_root / "photo_slideshow.mp4",
        [PHOTO_S] * len(PHOTOS),
        fps=25.0,
        size=(480, 270),
        frame_fn=photo_slideshow([pictures[n] for n in PHOTOS], 480, 270),
    )
    with SceneSearchClient(address, timeout_s=60) as client:
        three_id = ingest(client, three_scenes.path)
        gop_id = ingest(client, gop_path)
        slides_id = ingest(client, slides.path)
        assert client.get_video(slides_id).video.scene_count == len(PHOTOS)
        scene_total = client.stats().scene_count
    web: RunningWeb = serve_in_thread(web_app(address))
    photos = {name: png(picture) for name, picture in pictures.items()}
    STACK_PHOTOS.update(photos)
    yield Stack(
        web.url.rstrip("/"), address, three_id, gop_id, gop_s, slides_id, scene_total, photos
    )
    web.stop()
    server.stop(1.0)


@pytest.fixture(scope="module")
def browser(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with loopback_browser(stack.url, tmp_path_factory.mktemp("profile")) as browser:
        yield browser


def test_text_and_image_queries_show_cards_with_thumbnails(
    browser: Browser, stack: Stack, three_scenes: WrittenVideo
) -> None:
    page = browser.page
    page.goto(stack.url + "/")
    shot(page, "search-empty.png")
    page.fill("input[name=q]", "a cat lying on a blanket")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/?q=*")
    assert "min_score" not in page.url  # empty filters stay out of the URL
    assert page.locator(".card").count() == min(10, stack.scene_total)
    thumbnails_loaded(page, ".card .thumb img")
    shot(page, "search-text.png")

    # By picker, by drop and by paste: each lands on /?image=KEY with the frame's scene first.
    query = frame_png(three_scenes, 2.5)
    for how in ("picker", "drop", "paste"):
        page.goto(stack.url + "/?top_k=4")
        if how == "picker":
            pick(page, "#image-input", query)
        else:
            page.evaluate(DISPATCH, [how, base64.b64encode(query).decode()])
        page.wait_for_url("**/?image=*")
        assert "top_k=4" in page.url
        first = page.locator(".card").first
        assert first.get_attribute("data-video") == str(stack.three_id), how
        assert first.get_attribute("data-index") == "1", how
        assert page.locator(".card").count() == 4
        thumbnails_loaded(page, ".card .thumb img")

    # The photo of the cat finds the cat's scene of the slideshow first.
    page.goto(stack.url + "/?top_k=8")
    pick(page, "#image-input", "chelsea")
    page.wait_for_url("**/?image=*")
    first = page.locator(".card").first
    assert first.get_attribute("data-video") == str(stack.slides_id)
    assert first.get_attribute("data-index") == str(PHOTOS.index("chelsea"))
    thumbnails_loaded(page, ".card .thumb img, .seed img")
    publish_screenshot(shot(page, "search.png"), "search.png")


def pick(page: Any, selector: str, *images: bytes | str) -> None:
    """Choose files in a file input: query bytes, or the names of PHOTOS."""
    files = [
        {"name": f"{item}.png", "mimeType": "image/png", "buffer": STACK_PHOTOS[item]}
        if isinstance(item, str)
        else {"name": f"query{n}.png", "mimeType": "image/png", "buffer": item}
        for n, item in enumerate(images)
    ]
    page.set_input_files(selector, files=files)


# A File built in the page from base64 PNG bytes, handed over as a drop or a paste.
DISPATCH = """([how, b64]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], "q.png", { type: "image/png" }));
  if (how === "drop") {
    document.getElementById("image-form").dispatchEvent(
      new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
  } else {
    document.dispatchEvent(
      new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }
}"""


def test_a_result_plays_at_its_best_moment_and_the_timeline_seeks(
    browser: Browser, stack: Stack
) -> None:
    page = browser.page
    cat = PHOTOS.index("chelsea")
    page.goto(stack.url + f"/?q=a+cat&video={stack.slides_id}")
    card = page.locator(f".card[data-index='{cat}']")
    best = float(card.get_attribute("data-best") or "nan")
    scene_id = card.get_attribute("data-scene")
    card.locator("a.play").click()
    page.wait_for_url(f"**/videos/{stack.slides_id}?t=*")
    page.wait_for_function(
        "best => { const v = document.getElementById('player');"
        " return v.readyState >= 1 && Math.abs(v.currentTime - best) < 0.5; }",
        arg=best,
    )
    current = page.locator("button.scene.current")
    assert current.get_attribute("data-scene") == scene_id
    thumbnails_loaded(page, ".scene img")

    # The scene strip seeks to the start of a scene.
    last = page.locator("button.scene").nth(3)
    last.click()
    assert page.evaluate(PLAYER_TIME) == pytest.approx(float(last.get_attribute("data-start") or 0))

    # Timeline of a text and an example image; a click on the plot seeks the video.
    page.fill("#timeline-form textarea", "a cat")
    pick(page, "#timeline-form input[name=images]", "chelsea")
    page.fill("#timeline-form input[name=smooth]", "1")
    page.click("#timeline-form button[type=submit]")
    plot = page.locator("#plot svg")
    plot.locator("polyline.curve").first.wait_for()
    assert plot.locator("polyline.curve").count() == 2
    assert plot.locator("line.cut").count() == len(PHOTOS) - 1
    x0, x1, duration = (
        float(plot.get_attribute(a) or "nan") for a in ("data-x0", "data-x1", "data-duration")
    )
    target = cat * PHOTO_S + 1.3
    x = x0 + (x1 - x0) * target / duration
    plot.click(position={"x": x, "y": 80})
    page.wait_for_function(f"t => Math.abs({PLAYER_TIME} - t) < 0.05", arg=target)
    page.wait_for_function("() => !document.getElementById('player').seeking")
    playhead = float(plot.locator("line.playhead").get_attribute("x1") or "nan")
    assert playhead == pytest.approx(x, abs=2.0)
    # The threshold slider re-shades the plot without a new request.
    set_threshold(page, 0.0)
    assert plot.locator(".shade rect").count() >= 2
    set_threshold(page, 0.9)

    # Classify every second against the four photos, with a null class.
    page.fill("#classify-form textarea", "")
    pick(page, "#classify-form input[name=images]", *PHOTOS)
    page.fill("#classify-form input[name=null_prompt]", "something else")
    page.fill("#classify-form input[name=interval]", "1")
    page.click("#classify-form button[type=submit]")
    page.locator("#classify-result table.grid").first.wait_for()
    intervals = page.locator("#classify-result .labels-strip button").count()
    assert intervals >= len(PHOTOS) * PHOTO_S  # one a second
    assert page.inner_text("#classify-result summary") == f"{intervals} intervals"
    rows = page.locator("#classify-result table.grid").first.locator("tbody tr")
    assert rows.count() == len(PHOTOS) + 1
    assert rows.first.inner_text().strip().startswith(f"{PHOTOS[0]}.png")  # not "image 1"
    # Let the player settle (data around the playhead, loading over) for the screenshot.
    page.wait_for_function(
        "() => { const v = document.getElementById('player');"
        " return v.readyState >= 3 && v.networkState !== 2; }"
    )
    page.wait_for_timeout(500)
    publish_screenshot(shot(page, "video.png"), "video.png")


PLAYER_TIME = "document.getElementById('player').currentTime"


def set_threshold(page: Any, fraction: float) -> None:
    """Move the threshold slider to `fraction` of its range, as a drag would."""
    page.eval_on_selector(
        "#threshold",
        "(s, f) => { s.value = Number(s.min) + f * (Number(s.max) - Number(s.min));"
        " s.dispatchEvent(new Event('input')); }",
        fraction,
    )


def test_upload_shows_progress_until_done_then_delete(
    browser: Browser, stack: Stack, tmp_path: Path
) -> None:
    page = browser.page
    video = write_video(tmp_path / "browser upload.mp4", [1.0, 1.2], seed=41)
    page.goto(stack.url + "/library")
    page.set_input_files("#upload-input", str(video.path))
    page.click("#upload-form button[type=submit]")
    job = page.locator(".job.done")
    job.wait_for(timeout=120_000)
    assert page.eval_on_selector(".job.done progress", "p => p.value") == 1
    text = job.locator(".job-text").inner_text()
    assert text.startswith("done: video ")
    new_id = int(text.rsplit(" ", 1)[1])
    row = page.locator(f"tr[data-video='{new_id}']")
    row.wait_for()
    assert "browser upload.mp4" in row.inner_text()
    shot(page, "library.png")

    # Dismissing the confirmation keeps the video; accepting it deletes it.
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.locator("form.delete button").click()
    assert row.count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("form.delete button").click()
    page.wait_for_url(f"**/library?deleted={new_id}")
    assert page.locator(f"tr[data-video='{new_id}']").count() == 0
    assert f"Video {new_id} was deleted" in page.inner_text("main")


def test_download_clip_is_an_mp4_of_the_scene(browser: Browser, stack: Stack) -> None:
    page = browser.page
    page.goto(stack.url + f"/?q=a+square&video={stack.gop_id}&top_k=3")
    card = page.locator(".card[data-index='1']")
    start, end = (float(card.get_attribute(a) or "nan") for a in ("data-start", "data-end"))
    with page.expect_download() as download:
        card.locator("a.clip").click()
    saved = artifacts_dir() / "clip.mp4"
    download.value.save_as(str(saved))
    with av.open(str(saved)) as clip:
        assert "mp4" in clip.format.name and clip.streams.video
        duration = float(clip.duration or 0) / av.time_base
        assert sum(1 for _ in clip.decode(video=0)) > 0
    # Stream copy starts at the keyframe before the scene: longer by less than one GOP.
    assert end - start - 1 / 30 <= duration <= end - start + stack.gop_s + 1 / 30


def test_stats_and_error_pages(browser: Browser, stack: Stack) -> None:
    page = browser.page
    page.goto(stack.url + "/stats")
    assert "videos" in page.inner_text(".stat-tiles")
    shot(page, "stats.png")
    response = page.goto(stack.url + "/videos/999")
    assert response is not None and response.status == 404
    assert "Not found" in page.inner_text("h1")
    shot(page, "error.png")
