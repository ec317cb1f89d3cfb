"""The move's own state, kept in the NEW generation's db so it travels with what it
describes: a video's vectors and its 'done' mark are committed in one transaction, so a
kill -9 loses at most the video in flight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum

from scenesearch.server.storage.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS reembed_move (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    source_generation TEXT NOT NULL, source_model TEXT NOT NULL, target_model TEXT NOT NULL,
    missing TEXT NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL, finished_at REAL
);
CREATE TABLE IF NOT EXISTS reembed_videos (
    video_id INTEGER PRIMARY KEY, path TEXT NOT NULL, state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS reembed_concepts (
    name TEXT PRIMARY KEY, retrained INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT ''
);
"""


class MoveState(str, Enum):
    BUILDING = "building"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Missing(str, Enum):
    """What happens to a video whose source is gone or changed."""

    KEEP = "keep"  # listed in the new generation (status 'kept'), vectors left in the old one
    DROP = "drop"  # left out of the new generation


class VideoState(str, Enum):
    PENDING = "pending"
    DONE = "done"
    KEPT = "kept"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class VideoEntry:
    video_id: int
    path: str
    state: VideoState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MoveInfo:
    source_generation: str
    source_model: str
    target_model: str
    target_generation: str
    missing: Missing
    state: MoveState
    message: str = ""


@dataclass(frozen=True, slots=True)
class MoveStatus:
    """A snapshot for clients: what moves where, how far, and what could not be moved."""

    info: MoveInfo
    total: int
    done: int
    unavailable: tuple[VideoEntry, ...]
    current: VideoEntry | None = None
    concepts_retrained: tuple[str, ...] = ()
    concepts_stale: tuple[tuple[str, str], ...] = field(default=())


class MoveTable:
    """Reads and writes of the move's tables in the target generation's store."""

    def __init__(self, store: Store, generation: str) -> None:
        self._store, self.generation = store, generation
        store.db.conn.executescript(SCHEMA)

    def create(
        self, source_generation: str, source_model: str, target_model: str, missing: Missing
    ) -> None:
        with self._store.write(searchable=False) as conn:
            conn.execute(
                "INSERT INTO reembed_move (id, source_generation, source_model, target_model, "
                "missing, state, started_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
                (
                    source_generation,
                    source_model,
                    target_model,
                    missing.value,
                    MoveState.BUILDING.value,
                    time.time(),
                ),
            )

    def info(self) -> MoveInfo | None:
        row = self._store.db.conn.execute(
            "SELECT source_generation, source_model, target_model, missing, state, message "
            "FROM reembed_move WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        return MoveInfo(
            source_generation=row[0],
            source_model=row[1],
            target_model=row[2],
            target_generation=self.generation,
            missing=Missing(row[3]),
            state=MoveState(row[4]),
            message=row[5],
        )

    def set_state(self, state: MoveState, message: str = "") -> None:
        finished = None if state is MoveState.BUILDING else time.time()
        with self._store.write(searchable=False) as conn:
            conn.execute(
                "UPDATE reembed_move SET state = ?, message = ?, finished_at = ? WHERE id = 1",
                (state.value, message, finished),
            )

    def plan(self, videos: list[tuple[int, str]]) -> int:
        """Add videos not planned yet as pending; returns how many were added."""
        with self._store.write(searchable=False) as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO reembed_videos (video_id, path, state) VALUES (?, ?, ?)",
                [(vid, path, VideoState.PENDING.value) for vid, path in videos],
            )
            return conn.total_changes - before

    def forget(self, video_ids: list[int]) -> None:
        """Videos deleted from the source while the move ran."""
        with self._store.write(searchable=False) as conn:
            conn.executemany(
                "DELETE FROM reembed_videos WHERE video_id = ?", [(v,) for v in video_ids]
            )

    def entries(self, state: VideoState | None = None) -> list[VideoEntry]:
        sql, args = "SELECT video_id, path, state, reason FROM reembed_videos", []
        if state is not None:
            sql, args = sql + " WHERE state = ?", [state.value]
        rows = self._store.db.conn.execute(sql + " ORDER BY video_id", args).fetchall()
        return [VideoEntry(int(r[0]), r[1], VideoState(r[2]), r[3]) for r in rows]

    def counts(self) -> tuple[int, int]:
        """(videos planned, videos settled: done, kept or dropped)."""
        row = self._store.db.conn.execute(
            "SELECT COUNT(*), SUM(state != 'pending') FROM reembed_videos"
        ).fetchone()
        return int(row[0]), int(row[1] or 0)

    def record_concept(self, name: str, retrained: bool, reason: str = "") -> None:
        with self._store.write(searchable=False) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO reembed_concepts VALUES (?, ?, ?)",
                (name, int(retrained), reason),
            )

    def status(self, current: VideoEntry | None = None) -> MoveStatus | None:
        info = self.info()
        if info is None:
            return None
        total, done = self.counts()
        unavailable = [
            e for e in self.entries() if e.state in (VideoState.KEPT, VideoState.DROPPED)
        ]
        concepts = self._store.db.conn.execute(
            "SELECT name, retrained, reason FROM reembed_concepts ORDER BY name"
        ).fetchall()
        return MoveStatus(
            info=info,
            total=total,
            done=done,
            unavailable=tuple(unavailable),
            current=current,
            concepts_retrained=tuple(r[0] for r in concepts if r[1]),
            concepts_stale=tuple((r[0], r[2]) for r in concepts if not r[1]),
        )
