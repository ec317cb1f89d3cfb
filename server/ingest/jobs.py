"""Ingest jobs: a bounded queue served by one worker process, with progress for subscribers.

One worker at a time: decode and embed already use every core, and a second model copy would
only compete for them. The runner thread hashes the file (deduplicating by content), hands the
decode + embed to the worker, watches it for crashes and stalls, and commits the result.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import multiprocessing as mp
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scenesearch.server.domain import IngestParams, IngestResult, JobStatus, Progress, Stage
from scenesearch.server.errors import ModelLoadError, ResourceExhausted
from scenesearch.server.ingest.job_table import JobTable
from scenesearch.server.ingest.worker import IngestTask, worker_main
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
    progress: Progress = field(init=False)
    done: bool = False
    error_kind: str = ""
    cond: threading.Condition = field(default_factory=threading.Condition)
    version: int = 0

    def __post_init__(self) -> None:
        self.progress = Progress(job_id=self.id, stage=Stage.QUEUED)

    def publish(self, progress: Progress, done: bool = False, error_kind: str = "") -> None:
        with self.cond:
            self.progress, self.done, self.error_kind = progress, done, error_kind
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


class WorkerCrashed(Exception):
    pass


@dataclass(frozen=True, slots=True)
class JobFailure:
    kind: str  # maps to a status code in the service
    message: str
    restart_worker: bool = False


class IngestWorker:
    """Owns the worker process: start, send a task, read events, kill and restart."""

    def __init__(
        self, model: str, device: str, precision: str = "auto", startup_timeout_s: float = 600.0
    ) -> None:
        self._ctx = mp.get_context("spawn")  # fork would copy the server's threads and torch
        self._model, self._device, self._precision = model, device, precision
        self._startup_timeout_s = startup_timeout_s
        self._process: Any = None
        self._lifecycle = threading.RLock()
        self._stopped = False
        self._tasks: Any = None
        self._events: Any = None

    def launch(self) -> None:
        """Start the process without waiting: its model loads while the server starts up."""
        self._tasks, self._events = self._ctx.Queue(), self._ctx.Queue()
        self._process = self._ctx.Process(
            target=worker_main,
            args=(self._model, self._device, self._precision, self._tasks, self._events),
            name="scenesearch-ingest-worker",
            daemon=True,
        )
        self._process.start()

    def start(self) -> None:
        """Launch if needed, then wait until the worker's model is loaded."""
        if self._process is None:
            self.launch()
        try:
            event = self._events.get(timeout=self._startup_timeout_s)
        except queue.Empty:
            self.stop()
            raise ModelLoadError("the ingest worker did not start in time") from None
        if event[0] == "fatal":
            self.stop()
            raise ModelLoadError(f"the ingest worker could not start: {event[1]}")

    def send(self, task: IngestTask) -> None:
        self._tasks.put(task)

    def next_event(self, timeout_s: float) -> tuple[Any, ...] | None:
        """The next event, None after `timeout_s` of silence; raises WorkerCrashed if dead."""
        waited = 0.0
        while waited < timeout_s:
            try:
                return tuple(self._events.get(timeout=min(0.5, timeout_s - waited)))
            except queue.Empty:
                waited += 0.5
            if not self._process.is_alive():
                code = self._process.exitcode
                reason = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
                raise WorkerCrashed(f"the decoder process died ({reason})")
        return None

    def stop(self) -> None:
        with self._lifecycle:
            process, self._process = self._process, None
            if process is None:
                return
            if process.is_alive():
                with contextlib.suppress(OSError, ValueError):
                    self._tasks.put(None)
                process.join(timeout=2.0)
            if process.is_alive():
                process.kill()
                process.join(timeout=5.0)

    def restart(self) -> None:
        with self._lifecycle:  # a shutdown meanwhile must not be undone by the restart
            if self._stopped:
                return
            self.stop()
            self.start()

    def shutdown(self) -> None:
        with self._lifecycle:
            self._stopped = True
            self.stop()


class JobRunner:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        worker: IngestWorker,
        stall_timeout_s: float,
        max_queued: int = 64,
    ) -> None:
        self._table = JobTable(store)
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
    ) -> Job:
        job = Job(uuid.uuid4().hex[:12], path, display_path, params, cleanup)
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
                self._fail(job, "internal", f"internal error: {exc}")
            finally:
                self._running = 0
                if job.cleanup is not None:
                    job.cleanup()

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
                job, "InvalidArgument", f"cannot read {job.display_path}: {exc.strerror or exc}"
            )
            return
        existing, video_id = self._store.reserve_video(job.display_path, digest)
        if existing is not None:
            self._finish(job, existing.id, already=True)
            return
        self._set(job, stage=Stage.DECODING, fraction=HASH_SHARE, video_id=video_id)
        try:
            result = self._decode_in_worker(job)
            if isinstance(result, IngestResult):
                self._set(job, stage=Stage.COMMITTING, fraction=HASH_SHARE + DECODE_SHARE)
                self._catalog.add(video_id, result)
        except BaseException:
            self._store.discard_reservations(video_id)
            raise
        if isinstance(result, JobFailure):
            # Discard first: once the client hears of the failure, no trace may remain.
            self._store.discard_reservations(video_id)
            self._fail(job, result.kind, result.message)
            if result.restart_worker:
                self._worker.restart()
            return
        self._finish(job, video_id, already=False, warnings=result.warnings)

    def _decode_in_worker(self, job: Job) -> IngestResult | JobFailure:
        self._worker.send(IngestTask(job.id, str(job.path), job.params))
        while True:
            try:
                event = self._worker.next_event(self._stall_timeout_s)
            except WorkerCrashed as exc:
                return JobFailure(
                    "crashed",
                    f"{exc} while decoding {job.display_path}; the "
                    "file is probably malformed. Other jobs are unaffected.",
                    restart_worker=True,
                )
            if event is None:
                return JobFailure(
                    "timeout",
                    f"decoding {job.display_path} made no progress "
                    f"for {self._stall_timeout_s:.0f}s and was stopped; the file "
                    "is probably malformed",
                    restart_worker=True,
                )
            kind, job_id = event[0], event[1]
            if job_id != job.id:
                continue  # a late event from a job that already ended
            if kind == "progress":
                done, total = event[2], event[3]
                self._set(
                    job,
                    frames_done=done,
                    frames_total=total,
                    fraction=HASH_SHARE + DECODE_SHARE * min(done / max(total, 1), 1.0),
                )
            elif kind == "result":
                return event[2]
            elif kind == "error":
                return JobFailure(event[2], event[3])

    def _finish(
        self, job: Job, video_id: int, already: bool, warnings: tuple[str, ...] = ()
    ) -> None:
        self._table.update(job.id, JobStatus.DONE, Stage.DONE.value, 1.0, video_id)
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

    def _fail(self, job: Job, kind: str, message: str) -> None:
        log.warning("job %s (%s) failed: %s", job.id, job.display_path, message)
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
        job.publish(replace(job.progress, message=message), done=True, error_kind=kind)
