"""What the server's parts report, as a no-op: `NO_METRICS` when --metrics-port is off.

Parts receive a `Metrics` and call it unconditionally; prometheus.py overrides every method.
Each call is O(1) per RPC, batch, job or backend call, never per hit, so the hot paths stay
cheap with the endpoint on and cost one empty call with it off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
_NOTHING = contextlib.nullcontext()  # reusable, and cheaper than a generator per call


class SizedIndex(Protocol):
    """What the index gauges read at scrape time (LiveIndex, or any other vector backend)."""

    @property
    def kind(self) -> str: ...

    def count(self) -> int: ...


class Metrics:
    """The no-op: every report is dropped. Subclassed by PrometheusMetrics."""

    enabled = False

    def backend(self, backend: str, operation: str) -> contextlib.AbstractContextManager[None]:
        """Time one call to a storage or vector backend, e.g. ("faiss", "search")."""
        return _NOTHING

    def timed(self, fn: Callable[P, R], backend: str, operation: str) -> Callable[P, R]:
        """`fn`, timed as `backend`/`operation` on every call (for callables handed to others)."""
        return fn

    def text_batch(self, size: int) -> None:
        """One forward pass of the text encoder over `size` queries."""

    def ingested(self, decoded_frames: int, embedded_frames: int, seconds: float) -> None:
        """One video decoded and embedded in `seconds` (commit not included)."""

    def job_ended(self, outcome: str) -> None:
        """An ingest job ended: "ingested", "duplicate" or "failed"."""

    def watch_index(self, index: SizedIndex) -> None:
        """Report the index's size and kind at every scrape."""

    def watch_jobs(self, counts: Callable[[], tuple[int, int]]) -> None:
        """Report (queued, running) ingest jobs at every scrape."""


NO_METRICS = Metrics()
