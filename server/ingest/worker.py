"""The ingest worker: a separate process that decodes and embeds, and its owner in the server.

A decoder that segfaults or hangs on a hostile file takes down this process only; the server
fails that job, starts a new worker and carries on. The worker touches no database: it sends
the IngestResult back and the server commits it. Messages both ways are the dataclasses of
`protocol`.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
import traceback
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from scenesearch.server.errors import ModelLoadError
from scenesearch.server.ingest.protocol import (
    FailureKind,
    IngestTask,
    JobEvent,
    JobFailed,
    JobFinished,
    JobProgressed,
    WorkerFatal,
    WorkerReady,
)

# Test hook: SCENESEARCH_TEST_FAULT="segv:NAME,hang:OTHER" makes the worker crash or hang on
# files whose name contains NAME (or OTHER), so crash isolation is tested with a real crash.
FAULT_ENV = "SCENESEARCH_TEST_FAULT"


class WorkerCrashed(Exception):
    pass


def _inject_fault(path: str) -> None:
    for spec in os.environ.get(FAULT_ENV, "").split(","):
        kind, _, name = spec.partition(":")
        if not name or name not in Path(path).name:
            continue
        if kind == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif kind == "hang":
            while True:
                time.sleep(3600)


def _exit_with_parent() -> None:
    """Exit when the server dies (even by SIGKILL), instead of decoding for nobody."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def worker_main(
    model: str,
    device: str,
    precision: str,
    runtime: str,
    runtime_cache: Path | None,
    tasks: Queue[Any],
    events: Queue[Any],
) -> None:
    """Entry point of the worker process: one WorkerReady (or WorkerFatal), then per task
    JobProgressed events and one JobFinished or JobFailed."""
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when the worker stops
    _exit_with_parent()
    # Ingest is background work: searches in the server process get the CPU first.
    with contextlib.suppress(OSError):
        os.nice(10)
    from scenesearch.server.embedder import load_embedder
    from scenesearch.server.errors import SceneSearchError
    from scenesearch.server.ingest.pipeline.orchestrator import default_stages, ingest_file
    from scenesearch.server.reembed.frames import ReembedTask, reembed_file

    try:
        embedder = load_embedder(model, device, precision, runtime, runtime_cache)
    except Exception as exc:
        events.put(WorkerFatal(str(exc)))
        return
    events.put(WorkerReady(embedder.dim))
    while True:
        task = tasks.get()
        if task is None:
            return
        assert isinstance(task, IngestTask | ReembedTask)

        def progress(done: int, total: int, job_id: str = task.job_id) -> None:
            events.put(JobProgressed(job_id, done, total))

        try:
            _inject_fault(task.path)
            if isinstance(task, ReembedTask):  # a move to another model: stored frames only
                result = reembed_file(task, embedder.embed_images, on_progress=progress)
            else:
                result = ingest_file(
                    Path(task.path),
                    task.params,
                    default_stages(task.params, embedder.embed_images),
                    on_progress=progress,
                )
            events.put(JobFinished(task.job_id, result))
        except SceneSearchError as exc:
            events.put(JobFailed(task.job_id, FailureKind.of(exc), str(exc)))
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
            events.put(JobFailed(task.job_id, FailureKind.INTERNAL, detail))


class IngestWorker:
    """Owns the worker process: start, send a task, read events, kill and restart."""

    def __init__(
        self,
        model: str,
        device: str,
        precision: str = "auto",
        startup_timeout_s: float = 600.0,
        runtime: str = "torch",
        runtime_cache: Path | None = None,
    ) -> None:
        self._ctx = mp.get_context("spawn")  # fork would copy the server's threads and torch
        self._model, self._device, self._precision = model, device, precision
        self._runtime, self._runtime_cache = runtime, runtime_cache
        self._startup_timeout_s = startup_timeout_s
        self._process: Any = None
        self._lifecycle = threading.RLock()
        self._stopped = False
        self._tasks: Any = None
        self._events: Any = None
        self._ready = False  # its model is loaded (start() returned)

    def launch(self) -> None:
        """Start the process without waiting: its model loads while the server starts up."""
        self._tasks, self._events = self._ctx.Queue(), self._ctx.Queue()
        self._process = self._ctx.Process(
            target=worker_main,
            args=(
                self._model,
                self._device,
                self._precision,
                self._runtime,
                self._runtime_cache,
                self._tasks,
                self._events,
            ),
            name="scenesearch-ingest-worker",
            daemon=True,
        )
        self._process.start()

    def start(self) -> None:
        """Launch if needed, then wait until the worker's model is loaded. A worker already
        started (a re-embed's, handed to the new generation's job runner) returns at once."""
        if self._ready and self._process is not None and self._process.is_alive():
            return
        if self._process is None:
            self.launch()
        try:
            event = self._events.get(timeout=self._startup_timeout_s)
        except queue.Empty:
            self.stop()
            raise ModelLoadError("the ingest worker did not start in time") from None
        if isinstance(event, WorkerFatal):
            self.stop()
            raise ModelLoadError(f"the ingest worker could not start: {event.message}")
        self._ready = True

    def send(self, task: Any) -> None:  # an IngestTask, or a reembed.frames.ReembedTask
        self._tasks.put(task)

    def next_event(self, timeout_s: float) -> JobEvent | None:
        """The next event, None after `timeout_s` of silence; raises WorkerCrashed if dead."""
        waited = 0.0
        while waited < timeout_s:
            try:
                event: JobEvent = self._events.get(timeout=min(0.5, timeout_s - waited))
                return event
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
            self._ready = False
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
