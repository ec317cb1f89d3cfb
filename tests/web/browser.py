"""A real Chromium (Debian's, driven by Playwright) that may load nothing but one web tier:
every other request is aborted and recorded, and a page error or a Content Security Policy
complaint is recorded too; both lists must be empty when the browser closes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from tests.support.web import BROWSER_FLAGS, CHROMIUM, artifacts_dir


@dataclass
class Browser:
    page: Any
    blocked: list[str]
    problems: list[str]


@contextmanager
def loopback_browser(url: str, profile: Path) -> Iterator[Browser]:
    """A headless browser on a fresh profile that only reaches `url`."""
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),  # a fresh --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=BROWSER_FLAGS,
            accept_downloads=True,
            viewport={"width": 1280, "height": 860},
        )
        blocked: list[str] = []
        problems: list[str] = []

        def only_loopback(route: Any) -> None:
            target = route.request.url
            if target.startswith((url + "/", "data:", "blob:")):
                route.continue_()
            else:
                blocked.append(target)
                route.abort()

        context.route("**/*", only_loopback)
        page = context.pages[0] if context.pages else context.new_page()
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.set_default_timeout(30_000)
        yield Browser(page, blocked, problems)
        context.close()
    assert not blocked, f"the page asked for something off loopback: {blocked}"
    assert not problems, problems


def shot(page: Any, name: str) -> Path:
    path = artifacts_dir() / name
    page.screenshot(path=str(path), full_page=True)
    return path


def thumbnails_loaded(page: Any, selector: str) -> None:
    page.wait_for_function(
        "sel => { const all = [...document.querySelectorAll(sel)];"
        " return all.length > 0 && all.every(i => i.complete && i.naturalWidth > 0); }",
        arg=selector,
    )
