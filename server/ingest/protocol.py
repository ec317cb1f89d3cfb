"""What crosses the process boundary between the server and its ingest worker.

Tasks go one way and events come back, as small frozen dataclasses (they are pickled through
multiprocessing queues). A failure carries a `FailureKind`, which the API edge maps to one
status code; nothing is matched by exception class name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from scenesearch.server.domain import IngestParams, IngestResult
from scenesearch.server.errors import InvalidArgument


class FailureKind(Enum):
    BAD_MEDIA = "bad_media"  # the file cannot be used as a video: the caller's to fix
    CRASHED = "crashed"  # the worker process died (a decoder crash on a hostile file)
    STALLED = "stalled"  # no progress within the stall timeout; the worker was killed
    INTERNAL = "internal"  # a bug of ours

    @property
    def needs_new_worker(self) -> bool:
        return self in (FailureKind.CRASHED, FailureKind.STALLED)

    @classmethod
    def of(cls, exc: BaseException) -> FailureKind:
        return cls.BAD_MEDIA if isinstance(exc, InvalidArgument) else cls.INTERNAL


@dataclass(frozen=True, slots=True)
class IngestTask:
    job_id: str
    path: str
    params: IngestParams


@dataclass(frozen=True, slots=True)
class WorkerReady:
    dim: int


@dataclass(frozen=True, slots=True)
class WorkerFatal:
    """The worker could not start (its model did not load)."""

    message: str


@dataclass(frozen=True, slots=True)
class JobProgressed:
    job_id: str
    frames_done: int
    frames_total: int


@dataclass(frozen=True, slots=True)
class JobFinished:
    job_id: str
    result: IngestResult


@dataclass(frozen=True, slots=True)
class JobFailed:
    job_id: str
    kind: FailureKind
    message: str


StartupEvent = WorkerReady | WorkerFatal
JobEvent = JobProgressed | JobFinished | JobFailed
