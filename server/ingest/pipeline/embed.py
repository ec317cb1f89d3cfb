"""Embed stage: batches sampled frames through the image encoder on a background thread.

The bounded queue lets decoding run ahead by a few batches and no further, so memory stays
flat however long the video is, while torch (which releases the GIL) overlaps with FFmpeg.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from scenesearch.server.domain import Vectors

ImageEncoder = Callable[[Sequence[npt.NDArray[np.uint8]]], Vectors]

_DONE = None


class OverlappedEmbedder:
    def __init__(self, encode: ImageEncoder, batch_size: int = 16, queued_batches: int = 4) -> None:
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        self._encode = encode
        self._batch_size = batch_size
        self._queue: queue.Queue[tuple[int, float, npt.NDArray[np.uint8]] | None] = queue.Queue(
            maxsize=batch_size * queued_batches
        )
        self._keys: list[tuple[int, float]] = []
        self._vectors: list[Vectors] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="embed", daemon=True)
        self.busy_s = 0.0
        self.embedded = 0

    def start(self) -> OverlappedEmbedder:
        self._thread.start()
        return self

    def submit(self, frame_no: int, time_s: float, rgb: npt.NDArray[np.uint8]) -> None:
        self._raise_if_failed()
        self._queue.put((frame_no, time_s, rgb))

    def finish(self) -> tuple[list[tuple[int, float]], Vectors]:
        """Wait for every submitted frame; return (frame_no, time_s) keys and their vectors."""
        self._queue.put(_DONE)
        self._thread.join()
        self._raise_if_failed()
        if not self._vectors:
            return [], np.zeros((0, 0), dtype=np.float32)
        return self._keys, np.concatenate(self._vectors, axis=0)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"image encoder failed: {self._error}") from self._error

    def _run(self) -> None:
        done = False
        while not done:
            item = self._queue.get()
            batch = []
            while item is not _DONE:
                batch.append(item)
                if len(batch) >= self._batch_size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            done = item is _DONE
            if batch and self._error is None:
                try:
                    started = time.perf_counter()
                    vectors = self._encode([rgb for _, _, rgb in batch])
                    self.busy_s += time.perf_counter() - started
                except BaseException as exc:  # surfaced to the decode loop by submit/finish
                    self._error = exc
                    continue
                self._keys.extend((no, t) for no, t, _ in batch)
                self._vectors.append(vectors)
                self.embedded += len(batch)
