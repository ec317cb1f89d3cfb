"""Fixtures of the web UI's HTTP-level tests: one web tier over one real server per module.
(The browser tests define a `stack` of their own, with photos, which overrides this one.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.support.synthetic import WrittenVideo
from tests.support.web import WebStack, web_stack


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_model: Path,
    media_root: Path,
    three_scenes: WrittenVideo,
) -> Iterator[WebStack]:
    data, spool = tmp_path_factory.mktemp("web-data"), tmp_path_factory.mktemp("spool")
    with web_stack(data, tiny_model, media_root, three_scenes, spool) as stack:
        yield stack


@pytest.fixture()
def web(stack: WebStack) -> TestClient:
    return stack.client


@pytest.fixture()
def video_id(stack: WebStack) -> int:
    return stack.video_id
