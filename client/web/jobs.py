"""Uploads and ingests started from the browser, followed by server-sent events.

A job runs the blocking client call (`upload` or `ingest_path`) in its own thread and
records every `IngestUpdate` it streams. The browser's EventSource reads them from
`/jobs/{id}/events`, from the start or from its Last-Event-ID after a reconnect.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scenesearch.client.remote import IngestUpdate, SceneSearchClient

log = logging.getLogger(__name__)
KEEP_FINISHED_S = 600.0
MAX_JOBS = 64


@dataclass
class Job:
    id: str
    name: str
    events: list[dict[str, Any]] = field(default_factory=list)
    finished_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, **data: Any) -> None:
        with self._lock:
            self.events.append({"event": kind, "name": self.name, **data})
            if kind in ("done", "failed"):
                self.finished_at = time.monotonic()

    def since(self, index: int) -> list[dict[str, Any]]:
        with self._lock:
            return self.events[index:]


class JobTable:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def start(
        self,
        name: str,
        work: Callable[[Job], IngestUpdate],
        on_finish: Callable[[], None] | None = None,
    ) -> Job:
        """Run `work(job)` in a thread; its final update becomes the `done` event."""
        job = Job(secrets.token_urlsafe(12), name)
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job

        def run() -> None:
            try:
                final = work(job)
                job.add("done", **asdict(final))
            except Exception as exc:  # shown to the person; logged with its trace here
                code = getattr(exc, "code", None)
                message = getattr(exc, "message", None) or str(exc)
                if code is None:
                    log.exception("job %s (%s) failed", job.id, name)
                job.add("failed", code=getattr(code, "name", "INTERNAL"), message=message)
            finally:
                if on_finish is not None:
                    on_finish()

        threading.Thread(target=run, name=f"web-job-{job.id}", daemon=True).start()
        return job

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self._jobs.items()):
            if job.finished_at is not None and now - job.finished_at > KEEP_FINISHED_S:
                del self._jobs[job_id]
        while len(self._jobs) >= MAX_JOBS:
            finished = [j for j in self._jobs.values() if j.finished_at is not None]
            if not finished:
                break
            del self._jobs[min(finished, key=lambda j: j.finished_at or 0.0).id]


def progress_recorder(job: Job) -> Callable[[IngestUpdate], None]:
    def record(update: IngestUpdate) -> None:
        job.add("progress", **asdict(update))

    return record


def upload_work(client: SceneSearchClient, spooled: Path) -> Callable[[Job], IngestUpdate]:
    """Send a file the browser posted on to the server; the spool folder goes afterwards."""
    size = spooled.stat().st_size

    def work(job: Job) -> IngestUpdate:
        try:

            def sent(count: int) -> None:
                job.add("sent", sent=count, size=size)

            return client.upload(spooled, on_progress=progress_recorder(job), on_sent=sent)
        finally:
            shutil.rmtree(spooled.parent, ignore_errors=True)

    return work


def ingest_work(client: SceneSearchClient, server_path: str) -> Callable[[Job], IngestUpdate]:
    """Ingest a path on the server's machine; the server checks it against its media roots."""

    def work(job: Job) -> IngestUpdate:
        return client.ingest_path(server_path, on_progress=progress_recorder(job))

    return work
