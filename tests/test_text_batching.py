"""The text batcher and its cache (issue 9): real tiny random CLIP checkpoints, and a real server
on 127.0.0.1 that moves its library to another model.

A remembered text returns the very vector its first batch computed; the cache keeps at most
its bound and forgets the least recently used; a text asked twice in one batch is encoded
once; and a batcher belongs to one model, so after a re-embed to a checkpoint of the same
family and dimension (where a shared cache would silently answer with the old model's vector)
the same text is scored with the new model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from scenesearch.client.remote import SceneSearchClient
from scenesearch.server.app import start_server
from scenesearch.server.embedder import ClipEmbedder, TextEmbedding
from scenesearch.server.query.text_batcher import TextBatcher
from tests.conftest import make_settings
from tests.support.random_model import write_random_clip
from tests.support.synthetic import write_video


def wait_for(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_remembered_text_returns_the_vector_its_batch_computed(
    embedder: ClipEmbedder,
) -> None:
    batcher = TextBatcher(embedder.embed_texts)
    first, truncated = batcher.encode("a red square")
    again, truncated_again = batcher.encode("a red square")
    assert (batcher.batches, batcher.texts, batcher.cache.hits) == (1, 1, 1)
    assert again is first and truncated is truncated_again is False
    np.testing.assert_array_equal(first, embedder.embed_texts(["a red square"]).vectors)
    assert first.shape == (1, embedder.dim) and first.dtype == np.float32
    with pytest.raises(ValueError):
        first[0, 0] = 0.0  # read-only: a caller cannot change what the next one gets
    long_text = "word " * 300
    vector, truncated = batcher.encode(long_text)
    assert truncated and batcher.encode(long_text) == (vector, True)


def test_the_cache_is_bounded_and_forgets_the_least_recently_used(
    embedder: ClipEmbedder,
) -> None:
    batcher = TextBatcher(embedder.embed_texts, cache_entries=3)
    texts = ["one", "two", "three", "four"]
    vectors = {text: batcher.encode(text)[0] for text in texts[:3]}
    batcher.encode("one")  # now the most recently used; "two" is the oldest
    batcher.encode("four")
    assert len(batcher.cache) == 3 and batcher.texts == 4
    assert batcher.encode("one")[0] is vectors["one"]  # kept
    assert batcher.encode("three")[0] is vectors["three"]
    assert batcher.texts == 4
    again = batcher.encode("two")[0]  # forgotten, so encoded again
    assert batcher.texts == 5 and again is not vectors["two"]
    np.testing.assert_array_equal(again, vectors["two"])
    assert len(batcher.cache) == 3

    off = TextBatcher(embedder.embed_texts, cache_entries=0)
    off.encode("one")
    off.encode("one")
    assert (off.texts, len(off.cache), off.cache.hits) == (2, 0, 0)


def test_a_text_asked_twice_in_one_batch_is_encoded_once(embedder: ClipEmbedder) -> None:
    entered, gate = threading.Event(), threading.Event()
    seen: list[list[str]] = []

    def gated(texts: Sequence[str]) -> TextEmbedding:
        entered.set()
        gate.wait()  # holds the first batch until the rest are queued behind it
        seen.append(list(texts))
        return embedder.embed_texts(texts)

    batcher = TextBatcher(gated, cache_entries=0)
    asked = ["first", "a cat", "a dog", "a cat", "a bird", "a dog", "a cat"]
    results: dict[int, tuple[np.ndarray, bool]] = {}

    def ask(i: int) -> None:
        results[i] = batcher.encode(asked[i])

    threads = [threading.Thread(target=ask, args=(0,))]
    threads[0].start()
    assert entered.wait(60)
    threads += [threading.Thread(target=ask, args=(i,)) for i in range(1, len(asked))]
    for t in threads[1:]:
        t.start()
    wait_for(lambda: batcher.queued() == len(asked) - 1)
    gate.set()
    for t in threads:
        t.join()
    assert seen == [["first"], ["a cat", "a dog", "a bird"]]
    assert (batcher.batches, batcher.texts) == (2, 4)
    alone = embedder.embed_texts(["a cat", "a dog", "a bird"]).vectors
    for i, text in enumerate(asked[1:], start=1):
        row = ["a cat", "a dog", "a bird"].index(text)
        np.testing.assert_array_equal(results[i][0], alone[row : row + 1])


def test_an_encoder_error_reaches_every_caller_and_nothing_is_remembered(
    embedder: ClipEmbedder,
) -> None:
    failures = [RuntimeError("out of memory")]

    def flaky(texts: Sequence[str]) -> TextEmbedding:
        if failures:
            raise failures.pop()
        return embedder.embed_texts(texts)

    batcher = TextBatcher(flaky)
    with pytest.raises(RuntimeError, match="out of memory"):
        batcher.encode("a red square")
    assert len(batcher.cache) == 0
    vector, _ = batcher.encode("a red square")
    np.testing.assert_array_equal(vector, embedder.embed_texts(["a red square"]).vectors)


def test_each_model_has_its_own_cache(embedder: ClipEmbedder, tmp_path: Path) -> None:
    other = ClipEmbedder.load(str(write_random_clip(tmp_path / "other", seed=5)), "cpu", "fp32")
    assert other.dim == embedder.dim
    mine, theirs = TextBatcher(embedder.embed_texts), TextBatcher(other.embed_texts)
    a, b = mine.encode("a red square")[0], theirs.encode("a red square")[0]
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(b, other.embed_texts(["a red square"]).vectors)
    assert theirs.encode("a red square")[0] is b and mine.encode("a red square")[0] is a


def test_after_a_reembed_the_same_text_is_scored_with_the_new_model(tmp_path: Path) -> None:
    old = write_random_clip(tmp_path / "old", seed=21)
    new = write_random_clip(tmp_path / "new", seed=22)  # same family and dimension
    media = (tmp_path / "media").resolve()
    video = write_video(media / "v.mp4", [1.0, 0.8], seed=2100, fps=20.0)
    running = start_server(make_settings(tmp_path / "data", old, media))
    try:
        with SceneSearchClient(f"127.0.0.1:{running.port}", timeout_s=120.0) as client:
            client.ingest_path(str(video.path))
            query = "a bright scene"
            before = client.search_text(query, top_k=5)
            assert before.model == str(old) and before.hits
            assert client.search_text(query, top_k=5).hits == before.hits  # remembered
            client.reembed(str(new), follow=False)
            assert client.watch_reembed(lambda s: None).state == "done"
            after = client.search_text(query, top_k=5)
            assert after.model == str(new) and after.hits
            vector = ClipEmbedder.load(str(new), "cpu", "fp32").embed_texts([query]).vectors[0]
            store = running.active.deps.store
            for hit in after.hits:
                _, scene_vector = store.scene_vector(hit.scene_id)
                assert hit.score == pytest.approx(float(scene_vector @ vector), abs=1e-5)
            old_scores = {h.scene_id: h.score for h in before.hits}
            assert any(abs(h.score - old_scores.get(h.scene_id, np.inf)) > 1e-3 for h in after.hits)
    finally:
        running.stop(1.0)
