"""The ingest worker process: decoding and embedding run here, never in the server.

A decoder that segfaults or hangs on a hostile file takes down this process only; the server
fails that job, starts a new worker and carries on. The worker touches no database: it sends
the IngestResult back and the server commits it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from scenesearch.server.domain import IngestParams

# Test hook: SCENESEARCH_TEST_FAULT="segv:NAME,hang:OTHER" makes the worker crash or hang on
# files whose name contains NAME (or OTHER), so crash isolation is tested with a real crash.
FAULT_ENV = "SCENESEARCH_TEST_FAULT"


@dataclass(frozen=True, slots=True)
class IngestTask:
    job_id: str
    path: str
    params: IngestParams


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
    model: str, device: str, precision: str, tasks: Queue[Any], events: Queue[Any]
) -> None:
    """Entry point of the worker process. Events: ready, progress, result, error, fatal."""
    logging.basicConfig(level=logging.WARNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when the worker stops
    _exit_with_parent()
    # Ingest is background work: searches in the server process get the CPU first.
    with contextlib.suppress(OSError):
        os.nice(10)
    from scenesearch.server.embedder import ClipEmbedder
    from scenesearch.server.errors import SceneSearchError
    from scenesearch.server.ingest.pipeline.orchestrator import default_stages, ingest_file

    try:
        embedder = ClipEmbedder.load(model, device, precision)
    except Exception as exc:
        events.put(("fatal", str(exc)))
        return
    events.put(("ready", embedder.dim))
    while True:
        task = tasks.get()
        if task is None:
            return
        assert isinstance(task, IngestTask)

        def progress(done: int, total: int, job_id: str = task.job_id) -> None:
            events.put(("progress", job_id, done, total))

        try:
            _inject_fault(task.path)
            result = ingest_file(
                Path(task.path),
                task.params,
                default_stages(task.params, embedder.embed_images),
                on_progress=progress,
            )
            events.put(("result", task.job_id, result))
        except SceneSearchError as exc:
            events.put(("error", task.job_id, type(exc).__name__, str(exc)))
        except Exception as exc:
            events.put(
                (
                    "error",
                    task.job_id,
                    "internal",
                    f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}",
                )
            )
