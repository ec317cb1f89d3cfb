"""The embed stage: a stateful actor that loads the model once and batches frames ACROSS videos.

The driver sends each actor chunks of sampled frames from whichever videos are decoding; the
actor runs several calls at once (`max_concurrency`) and a batcher joins the frames of the
calls waiting into one forward pass, up to `max_batch`. No artificial wait: while one batch
runs, the next fills (the same rule as the server's text batcher).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np
import numpy.typing as npt

from scenesearch.client.ray_ingest.tasks import EmbeddedChunk, FrameChunk, Pixels

Vectors = npt.NDArray[np.float32]
ImageEncoder = Callable[[Sequence[Pixels]], Vectors]


class FrameBatcher:
    """Joins the frames of concurrent `encode` calls into batches of up to `max_batch`."""

    def __init__(self, encode: ImageEncoder, max_batch: int) -> None:
        self._encode, self._max_batch = encode, max(1, max_batch)
        self._cond = threading.Condition()
        self._pending: list[tuple[Sequence[Pixels], Future[Vectors]]] = []
        self.batches = self.frames = 0
        self.busy_s = 0.0
        self.largest = 0
        threading.Thread(target=self._loop, name="frame-batcher", daemon=True).start()

    def encode(self, pixels: Sequence[Pixels]) -> Vectors:
        future: Future[Vectors] = Future()
        with self._cond:
            self._pending.append((pixels, future))
            self._cond.notify()
        return future.result()

    def _take(self) -> list[tuple[Sequence[Pixels], Future[Vectors]]]:
        with self._cond:
            while not self._pending:
                self._cond.wait()
            taken: list[tuple[Sequence[Pixels], Future[Vectors]]] = []
            size = 0
            while self._pending and (
                not taken or size + len(self._pending[0][0]) <= self._max_batch
            ):
                item = self._pending.pop(0)
                taken.append(item)
                size += len(item[0])
            return taken

    def _loop(self) -> None:
        while True:
            batch = self._take()
            images = [image for pixels, _ in batch for image in pixels]
            try:
                started = time.perf_counter()
                vectors = self._encode(images)
                self.busy_s += time.perf_counter() - started
            except BaseException as exc:
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self.batches += 1
            self.frames += len(images)
            self.largest = max(self.largest, len(images))
            row = 0
            for pixels, future in batch:
                future.set_result(vectors[row : row + len(pixels)])
                row += len(pixels)


class EmbedActor:
    """Ray actor: one model copy on its device; `embed` is called concurrently."""

    def __init__(
        self, model: str, device: str, precision: str, runtime: str, max_batch: int, threads: int
    ) -> None:
        import torch

        from scenesearch.server.models.registry import load_embedder

        if threads > 0:
            torch.set_num_threads(threads)
        self._embedder = load_embedder(model, device, precision, runtime)
        self._batcher = FrameBatcher(self._embedder.embed_images, max_batch)

    def describe(self) -> dict[str, Any]:
        e = self._embedder
        return {"dim": e.dim, "device": str(e.device), "dtype": str(e.dtype).removeprefix("torch.")}

    def embed(self, chunk: FrameChunk) -> EmbeddedChunk:
        return EmbeddedChunk(chunk.keys, self._batcher.encode(chunk.pixels))

    def stats(self) -> dict[str, float]:
        b = self._batcher
        return {
            "batches": b.batches,
            "frames": b.frames,
            "busy_s": b.busy_s,
            "largest_batch": b.largest,
            "mean_batch": b.frames / b.batches if b.batches else 0.0,
        }
