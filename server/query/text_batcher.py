"""Batches concurrent text queries through the text encoder, and remembers recent ones.

No artificial wait: while one batch runs, the queries that arrive queue up and go together in
the next, so a lone client pays nothing and many clients share forward passes. A text asked
more than once in a batch is encoded once.

Recent texts are remembered (text -> vector, a least-recently-used map of
`TEXT_CACHE_ENTRIES`): a search server sees the same text again and again (paging, a changed
filter, a page reloaded, popular queries), and a remembered text skips the queue and the
encoder. The map belongs to its batcher, and a batcher to one model: the server builds one per
generation, and a re-embed swap builds a new one with the new model, so vectors of two models
never meet. A remembered vector is the one its first batch computed (with int8 weights a
text's vector moves slightly, cosine > 0.999, with the other texts in its batch).
Memory: entries x dim x 4 bytes, 8 MiB at 4096 x 512.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

from scenesearch.server.domain import Vectors
from scenesearch.server.embedder import TextEmbedding
from scenesearch.server.metrics.base import NO_METRICS, Metrics

TextEncodeFn = Callable[[Sequence[str]], TextEmbedding]
# A (1, dim) read-only vector, and whether the text was truncated to the model's context.
Encoded = tuple[Vectors, bool]

# How many texts a batcher remembers; 0 remembers none.
TEXT_CACHE_ENTRIES = 4096


class TextVectorCache:
    """A bounded, thread-safe least-recently-used map of text -> Encoded."""

    def __init__(self, capacity: int = TEXT_CACHE_ENTRIES) -> None:
        if capacity < 0:
            raise ValueError(f"the text cache capacity must not be negative, got {capacity}")
        self.capacity = capacity
        self.hits = 0
        self._items: OrderedDict[str, Encoded] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, text: str) -> Encoded | None:
        with self._lock:
            found = self._items.get(text)
            if found is not None:
                self._items.move_to_end(text)
                self.hits += 1
            return found

    def put(self, text: str, value: Encoded) -> None:
        if not self.capacity:
            return
        with self._lock:
            self._items[text] = value
            self._items.move_to_end(text)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


class TextBatcher:
    def __init__(
        self,
        encode: TextEncodeFn,
        max_batch: int = 64,
        metrics: Metrics = NO_METRICS,
        cache_entries: int = TEXT_CACHE_ENTRIES,
    ) -> None:
        self._encode = encode
        self._metrics = metrics
        self._max_batch = max_batch
        self.cache = TextVectorCache(cache_entries)
        self._cond = threading.Condition()
        self._pending: list[tuple[str, Future[Encoded]]] = []
        self.batches = 0  # forward passes
        self.texts = 0  # texts encoded by them (each distinct text of a batch once)
        self._thread = threading.Thread(target=self._loop, name="text-batcher", daemon=True)
        self._thread.start()

    def encode(self, text: str) -> Encoded:
        """(1, dim) read-only vector and whether the text was truncated to the model's
        context."""
        cached = self.cache.get(text)
        if cached is not None:
            return cached
        future: Future[Encoded] = Future()
        with self._cond:
            self._pending.append((text, future))
            self._cond.notify()
        return future.result()

    def queued(self) -> int:
        """Texts waiting for the next forward pass."""
        with self._cond:
            return len(self._pending)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            waiting: dict[str, list[Future[Encoded]]] = {}
            for text, future in batch:
                waiting.setdefault(text, []).append(future)
            # A text that the batch before this one encoded needs no forward pass.
            for text in list(waiting):
                if (cached := self.cache.get(text)) is not None:
                    for future in waiting.pop(text):
                        future.set_result(cached)
            if waiting:
                self._run(waiting)

    def _run(self, waiting: dict[str, list[Future[Encoded]]]) -> None:
        texts = list(waiting)
        self._metrics.text_batch(len(texts))
        try:
            with self._metrics.backend("model", "embed_texts"):
                result = self._encode(texts)
        except BaseException as exc:
            for futures in waiting.values():
                for future in futures:
                    future.set_exception(exc)
            return
        self.batches += 1
        self.texts += len(texts)
        for row, text in enumerate(texts):
            # A copy, so a remembered row does not keep its whole batch alive.
            vector = np.array(result.vectors[row : row + 1], dtype=np.float32)
            vector.setflags(write=False)
            value = (vector, bool(result.truncated[row]))
            self.cache.put(text, value)
            for future in waiting[text]:
                future.set_result(value)
