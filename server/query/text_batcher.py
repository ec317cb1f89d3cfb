"""Batches concurrent text queries through the text encoder.

No artificial wait: while one batch runs, the queries that arrive queue up and go together in
the next, so a lone client pays nothing and many clients share forward passes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from scenesearch.server.domain import Vectors
from scenesearch.server.embedder import TextEmbedding
from scenesearch.server.metrics.base import NO_METRICS, Metrics

TextEncodeFn = Callable[[Sequence[str]], TextEmbedding]


class TextBatcher:
    def __init__(
        self, encode: TextEncodeFn, max_batch: int = 64, metrics: Metrics = NO_METRICS
    ) -> None:
        self._encode = encode
        self._metrics = metrics
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._pending: list[tuple[str, Future[tuple[Vectors, bool]]]] = []
        self._thread = threading.Thread(target=self._loop, name="text-batcher", daemon=True)
        self._thread.start()
        self.batches = 0
        self.texts = 0

    def encode(self, text: str) -> tuple[Vectors, bool]:
        """(1, dim) vector and whether the text was truncated to the model's context."""
        future: Future[tuple[Vectors, bool]] = Future()
        with self._cond:
            self._pending.append((text, future))
            self._cond.notify()
        return future.result()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            self._metrics.text_batch(len(batch))
            try:
                with self._metrics.backend("model", "embed_texts"):
                    result = self._encode([text for text, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self.batches += 1
            self.texts += len(batch)
            for row, (_, future) in enumerate(batch):
                future.set_result((result.vectors[row : row + 1], result.truncated[row]))
