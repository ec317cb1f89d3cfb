"""Ingest jobs: a bounded queue served by one worker process, with progress for subscribers.

One worker at a time: decode and embed already use every core, and a second model copy would
only compete for them. The runner thread hashes the file (deduplicating by content), hands the
decode + embed to the worker, watches it for crashes and stalls, and commits the result.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scenesearch.server.domain import IngestParams, JobStatus, Progress, Stage
from scenesearch.server.errors import ResourceExhausted
from scenesearch.server.ingest.job_table import JobTable
from scenesearch.server.ingest.protocol import (
    FailureKind,
    IngestTask,
    JobFailed,
    JobFinished,
    JobProgressed,
)
from scenesearch.server.ingest.worker import IngestWorker, WorkerCrashed
from scenesearch.server.metrics.base import NO_METRICS, Metrics
from scenesearch.server.storage.catalog import Catalog
from scenesearch.server.storage.store import Store

log = logging.getLogger(__name__)

HASH_SHARE, DECODE_SHARE = 0.05, 0.9  # of a job's progress fraction; committing is the rest


@dataclass
class Job:
    id: str
    path: Path
    display_path: str
    params: IngestParams
    # Called when the job ends, whatever the outcome (e.g. to delete an uploaded temp file).
    cleanup: Callable[[], None] | None = None
    # Called with the content hash before a NEW video is committed (e.g. to keep the upload).
    keep: Callable[[str], None] | None = None
    progress: Progress = field(init=False)
    done: bool = False
    failure: FailureKind | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)
    version: int = 0

    def __post_init__(self) -> None:
        self.progress = Progress(job_id=self.id, stage=Stage.QUEUED)

    def tidy(self) -> None:
        """Run the cleanup once (before the final state is published, so a client that hears
        "done" finds nothing left behind)."""
        cleanup, self.cleanup = self.cleanup, None
        if cleanup is not None:
            cleanup()

    def publish(
        self, progress: Progress, done: bool = False, failure: FailureKind | None = None
    ) -> None:
        if done:
            self.tidy()
        with self.cond:
            self.progress, self.done, self.failure = progress, done, failure
            self.version += 1
            self.cond.notify_all()

    def updates(self, poll_s: float = 1.0) -> Iterator[Progress]:
        """Yield the latest progress each time it changes, ending with the final state."""
        seen = -1
        while True:
            with self.cond:
                while self.version == seen:
                    self.cond.wait(poll_s)
                seen, progress, done = self.version, self.progress, self.done
            yield progress
            if done:
                return


def file_sha256(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            digest.update(chunk)
            done += len(chunk)
            if on_bytes is not None:
                on_bytes(done)
    return digest.hexdigest()


class JobRunner:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        worker: IngestWorker,
        stall_timeout_s: float,
        max_queued: int = 64,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._table = JobTable(store)
        self._metrics = metrics
        self._store, self._catalog, self._worker = store, catalog, worker
        self._stall_timeout_s = stall_timeout_s
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queued)
        self._running = 0
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)

    def start(self) -> None:
        self._store.discard_reservations()  # ingests a crash interrupted: nothing was committed
        interrupted = self._table.fail_unfinished()
        if interrupted:
            log.warning("marked %d interrupted job(s) from a previous run as failed", interrupted)
        self._worker.start()
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._worker.shutdown()
        self._thread.join(timeout=5.0)
        self._table.fail_unfinished()

    def counts(self) -> tuple[int, int]:
        return self._queue.qsize(), self._running

    def submit(
        self,
        path: Path,
        display_path: str,
        params: IngestParams,
        cleanup: Callable[[], None] | None = None,
        keep: Callable[[str], None] | None = None,
    ) -> Job:
        job = Job(uuid.uuid4().hex[:12], path, display_path, params, cleanup, keep)
        self._table.add(job.id, display_path)  # the row exists before the runner can see the job
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            message = (
                f"the ingest queue is full ({self._queue.maxsize} jobs waiting); "
                "retry when some have finished"
            )
            self._table.update(job.id, JobStatus.FAILED, Stage.QUEUED.value, 0.0, error=message)
            if cleanup is not None:
                cleanup()
            raise ResourceExhausted(message) from None
        return job

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            self._running = 1
            try:
                self._run(job)
            except Exception as exc:  # the runner must survive anything one job does
                log.exception("job %s failed unexpectedly", job.id)
                self._fail(job, FailureKind.INTERNAL, f"internal error: {exc}")
            finally:
                self._running = 0
                job.tidy()

    def _set(self, job: Job, **changes: Any) -> None:
        job.publish(replace(job.progress, **changes))

    def _run(self, job: Job) -> None:
        self._set(job, stage=Stage.HASHING)
        self._table.update(job.id, JobStatus.RUNNING, Stage.HASHING.value, 0.0)
        try:
            size = max(job.path.stat().st_size, 1)
            digest = file_sha256(job.path, lambda n: self._set(job, fraction=HASH_SHARE * n / size))
        except OSError as exc:  # removed or unreadable since it was queued
            self._fail(
                job,
                FailureKind.BAD_MEDIA,
                f"cannot read {job.display_path}: {exc.strerror or exc}",
            )
            return
        existing, video_id = self._store.reserve_video(job.display_path, digest)
        if existing is not None:
            self._finish(job, existing.id, already=True)
            return
        self._set(job, stage=Stage.DECODING, fraction=HASH_SHARE, video_id=video_id)
        try:
            started = time.perf_counter()
            result = self._decode_in_worker(job)
            if isinstance(result, JobFinished):
                ingested = result.result
                self._metrics.ingested(
                    ingested.info.frame_count, len(ingested.frames), time.perf_counter() - started
                )
                self._set(job, stage=Stage.COMMITTING, fraction=HASH_SHARE + DECODE_SHARE)
                self._keep(job, digest)  # before the commit: a visible video is playable
                with self._metrics.backend("catalog", "commit"):
                    self._catalog.add(video_id, ingested)
        except BaseException:
            self._store.discard_reservations(video_id)
            raise
        if isinstance(result, JobFailed):
            # Discard first: once the client hears of the failure, no trace may remain.
            self._store.discard_reservations(video_id)
            self._fail(job, result.kind, result.message)
            if result.kind.needs_new_worker:
                self._worker.restart()
            return
        self._finish(job, video_id, already=False, warnings=result.result.warnings)

    @staticmethod
    def _keep(job: Job, digest: str) -> None:
        if job.keep is None:
            return
        try:
            job.keep(digest)
        except OSError:  # the video is still searchable; it just cannot be played
            log.exception("could not keep the file of job %s", job.id)

    def _decode_in_worker(self, job: Job) -> JobFinished | JobFailed:
        self._worker.send(IngestTask(job.id, str(job.path), job.params))
        while True:
            try:
                event = self._worker.next_event(self._stall_timeout_s)
            except WorkerCrashed as exc:
                return JobFailed(
                    job.id,
                    FailureKind.CRASHED,
                    f"{exc} while decoding {job.display_path}; the "
                    "file is probably malformed. Other jobs are unaffected.",
                )
            if event is None:
                return JobFailed(
                    job.id,
                    FailureKind.STALLED,
                    f"decoding {job.display_path} made no progress "
                    f"for {self._stall_timeout_s:.0f}s and was stopped; the file "
                    "is probably malformed",
                )
            if event.job_id != job.id:
                continue  # a late event from a job that already ended
            if isinstance(event, JobProgressed):
                done, total = event.frames_done, event.frames_total
                self._set(
                    job,
                    frames_done=done,
                    frames_total=total,
                    fraction=HASH_SHARE + DECODE_SHARE * min(done / max(total, 1), 1.0),
                )
            else:
                return event

    def _finish(
        self, job: Job, video_id: int, already: bool, warnings: tuple[str, ...] = ()
    ) -> None:
        self._table.update(job.id, JobStatus.DONE, Stage.DONE.value, 1.0, video_id)
        self._metrics.job_ended("duplicate" if already else "ingested")
        note = "already ingested (same content)" if already else "ingested"
        if warnings:
            note += "; warning: " + "; ".join(warnings)
        job.publish(
            replace(
                job.progress,
                stage=Stage.DONE,
                fraction=1.0,
                video_id=video_id,
                already_ingested=already,
                message=note,
            ),
            done=True,
        )

    def _fail(self, job: Job, kind: FailureKind, message: str) -> None:
        log.warning("job %s (%s) failed: %s", job.id, job.display_path, message)
        self._metrics.job_ended("failed")
        try:
            self._table.update(
                job.id,
                JobStatus.FAILED,
                job.progress.stage.value,
                job.progress.fraction,
                error=message,
            )
        except Exception:  # the subscriber must still hear of the failure
            log.exception("could not record the failure of job %s", job.id)
        job.publish(replace(job.progress, message=message), done=True, failure=kind)
