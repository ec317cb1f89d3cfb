"""Job rows in SQLite: queued → running(progress) → done | failed(reason).

Rows survive restarts, so a job interrupted by a crash is found and marked failed, never
left "running".
"""

from __future__ import annotations

import time

from scenesearch.server.domain import JobStatus
from scenesearch.server.storage.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL,
    fraction REAL NOT NULL DEFAULT 0, video_id INTEGER, error TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
"""

INTERRUPTED = "interrupted: the server stopped before this job finished; run the ingest again"


class JobTable:
    def __init__(self, store: Store) -> None:
        self._store = store
        store.db.conn.executescript(SCHEMA)

    def add(self, job_id: str, source: str) -> None:
        now = time.time()
        self._store.db.table("jobs").insert(
            {
                "id": job_id,
                "source": source,
                "status": JobStatus.QUEUED.value,
                "stage": "queued",
                "fraction": 0.0,
                "created_at": now,
                "updated_at": now,
            }
        )

    def update(
        self,
        job_id: str,
        status: JobStatus,
        stage: str,
        fraction: float,
        video_id: int | None = None,
        error: str | None = None,
    ) -> None:
        self._store.db.table("jobs").update(
            job_id,
            {
                "status": status.value,
                "stage": stage,
                "fraction": fraction,
                "video_id": video_id,
                "error": error,
                "updated_at": time.time(),
            },
        )

    def fail_unfinished(self) -> int:
        """Mark queued and running jobs failed; called at start-up and on shutdown."""
        cur = self._store.db.execute(
            "UPDATE jobs SET status = ?, error = ?, updated_at = ? WHERE status IN (?, ?)",
            (
                JobStatus.FAILED.value,
                INTERRUPTED,
                time.time(),
                JobStatus.QUEUED.value,
                JobStatus.RUNNING.value,
            ),
        )
        return int(cur.rowcount)

    def status_of(self, job_id: str) -> tuple[str, str | None]:
        row = self._store.db.execute(
            "SELECT status, error FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return (row[0], row[1]) if row else ("", None)
