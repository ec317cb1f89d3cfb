"""Composite and concept queries in a real browser: tick results good and bad, save them as
a concept, search with it, push a scene away, add a term from the form; each step a URL
that can be shared. One lean test: browsers are slow."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from scenesearch.client.remote import SceneSearchClient
from scenesearch.client.web.cli import serve_in_thread
from scenesearch.server.app import start_server
from tests.conftest import make_settings
from tests.helpers import ingest
from tests.support.synthetic import write_video
from tests.support.web import publish_screenshot, web_app
from tests.web.browser import Browser, loopback_browser, shot, thumbnails_loaded

pytestmark = pytest.mark.slow


@dataclass
class Site:
    url: str
    video_id: int
    scenes: list[int]


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, media_root: Path
) -> Iterator[Site]:
    server = start_server(make_settings(tmp_path_factory.mktemp("data"), tiny_model, media_root))
    address = f"127.0.0.1:{server.port}"
    video = write_video(media_root / "browser_concepts.mp4", [1.5, 1.2, 1.8, 1.4], seed=58)
    with SceneSearchClient(address, timeout_s=60) as client:
        video_id = ingest(client, video.path)
        scenes = [s.id for s in client.get_video(video_id).scenes]
    web = serve_in_thread(web_app(address))
    yield Site(web.url.rstrip("/"), video_id, scenes)
    web.stop()
    server.stop(1.0)


@pytest.fixture(scope="module")
def browser(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with loopback_browser(site.url, tmp_path_factory.mktemp("profile")) as browser:
        yield browser


def terms_of(url: str) -> list[tuple[str, str, str]]:
    fields = parse_qsl(urlsplit(url).query)
    kinds = [v for k, v in fields if k == "tk"]
    values = [v for k, v in fields if k == "tv"]
    weights = [v for k, v in fields if k == "tw"]
    return list(zip(kinds, values, weights, strict=True))


def test_mark_results_save_a_concept_and_search_with_it(browser: Browser, site: Site) -> None:
    page = browser.page
    good, bad = site.scenes[0], site.scenes[-1]
    page.goto(site.url + f"/?q=coloured+blocks&video={site.video_id}")
    assert page.locator(".card").count() == len(site.scenes)
    page.check(f".card[data-scene='{good}'] .marks input[name=good]")
    page.check(f".card[data-scene='{bad}'] .marks input[name=bad]")
    assert page.inner_text("#marked-count") == "1 good, 1 bad"
    page.fill("#concept-form input[name=name]", "first look")
    page.click("#concept-form button[type=submit]")
    page.wait_for_url("**/concept?name=first+look&saved=1")
    assert "version 1" in page.inner_text(".notice.ok")
    shot(page, "concept.png")
    assert page.locator(f".examples.good li[data-scene='{good}']").count() == 1
    assert page.locator(f".examples.bad li[data-scene='{bad}']").count() == 1

    # The concept as a query term: a chip, and a linkable URL.
    page.click("text=Search with it")
    page.wait_for_url("**/?tk=concept*")
    assert terms_of(page.url) == [("concept", "first look", "1")]
    assert page.inner_text("ul.chips").startswith("+concept first look")
    assert page.locator(".card").count() == len(site.scenes)

    # "Not like this" on a result pushes its scene away: a second term, scores per term.
    pushed = page.locator(".card").first.get_attribute("data-scene")
    page.locator(".card").first.locator("a.less").click()
    page.wait_for_url("**tw=-1*")
    assert terms_of(page.url) == [("concept", "first look", "1"), ("scene", str(pushed), "-1")]
    assert page.locator(".card").first.locator(".term-scores li").count() == 2

    # A text term added from the form's blank row; the blank concept row stays out of the URL.
    page.fill("tr.term.new input[name=tv]", "coloured blocks")
    page.fill("tr.term.new input[name=tw]", "0.5")
    page.click("#search-form button[type=submit]")
    page.wait_for_url("**tv=coloured+blocks*")
    assert terms_of(page.url)[-1] == ("text", "coloured blocks", "0.5")
    assert len(terms_of(page.url)) == 3
    assert page.locator(".card").first.locator(".term-scores li").count() == 3
    thumbnails_loaded(page, ".card .thumb img")
    publish_screenshot(shot(page, "composite.png"), "composite.png")

    # The concepts page lists it; deleting asks first.
    page.goto(site.url + "/concepts")
    row = page.locator("tr[data-concept='first look']")
    assert "1 / 1" in row.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("form.delete button").click()
    page.wait_for_url("**/concepts?deleted=first+look")
    assert page.locator("tr[data-concept='first look']").count() == 0

    # The temporal page from its form: first scene, then the last within 5 s; the span's
    # Play opens the player at its start.
    page.goto(site.url + "/when")
    step = "tr.step.new"
    page.fill(f"{step} input[name=sv]", str(good))
    page.select_option(f"{step} select[name=sk]", "scene")
    page.fill("input[name=threshold]", "0.999")
    page.fill("input[name=within]", "5")
    page.click("#search-form button[type=submit]")
    page.wait_for_url("**/when?*")
    page.fill(f"{step} input[name=sv]", str(bad))
    page.select_option(f"{step} select[name=sk]", "scene")
    page.click("#search-form button[type=submit]")
    page.locator(".span-card").first.wait_for()
    assert page.locator(".span-card .term-scores li").count() == 2
    thumbnails_loaded(page, ".span-card .thumb img")
    publish_screenshot(shot(page, "when.png"), "when.png")
    page.locator(".span-card a.play").first.click()
    page.wait_for_url(f"**/videos/{site.video_id}?t=0.000")
