"""The job queue: bounded, persisted, and honest about interrupted work."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenesearch.server.domain import IngestParams
from scenesearch.server.errors import ResourceExhausted
from scenesearch.server.index.live import LiveIndex
from scenesearch.server.ingest.job_table import INTERRUPTED, JobTable
from scenesearch.server.ingest.jobs import JobRunner
from scenesearch.server.ingest.worker import IngestWorker
from scenesearch.server.storage.catalog import Catalog
from scenesearch.server.storage.store import Store

PARAMS = IngestParams(1.0, "content", 0.0, 8)


def runner(tmp_path: Path, max_queued: int) -> tuple[Store, JobRunner]:
    store = Store.open(tmp_path)
    store.bind_model("m", 8)
    index = LiveIndex(store, tmp_path, "flat", {})
    # The runner is not started: nothing drains the queue, so it fills up.
    worker = IngestWorker("unused-model", "cpu")
    return store, JobRunner(store, Catalog(store, index), worker, 10.0, max_queued=max_queued)


def test_full_queue_is_resource_exhausted_and_recorded(tmp_path: Path) -> None:
    store, jobs = runner(tmp_path, max_queued=2)
    cleaned: list[str] = []
    jobs.submit(tmp_path / "a.mp4", "a", PARAMS)
    jobs.submit(tmp_path / "b.mp4", "b", PARAMS)
    with pytest.raises(ResourceExhausted, match="queue is full"):
        jobs.submit(tmp_path / "c.mp4", "c", PARAMS, cleanup=lambda: cleaned.append("c"))
    assert cleaned == ["c"]  # an upload's temp file is removed even when refused
    assert jobs.counts() == (2, 0)
    statuses = [r[0] for r in store.db.execute("SELECT status FROM jobs ORDER BY created_at")]
    assert sorted(statuses) == ["failed", "queued", "queued"]


def test_unfinished_jobs_are_marked_failed_on_restart(tmp_path: Path) -> None:
    store, jobs = runner(tmp_path, max_queued=4)
    job = jobs.submit(tmp_path / "a.mp4", "a", PARAMS)
    _, reserved = store.reserve_video("a", "hash-a")
    # A new process on the same data dir (what a restart after SIGKILL sees):
    table = JobTable(Store.open(tmp_path))
    assert table.fail_unfinished() == 1
    assert table.status_of(job.id) == ("failed", INTERRUPTED)
    assert Store.open(tmp_path).discard_reservations() == 1
    assert reserved not in {v.id for v in store.list_videos()}
