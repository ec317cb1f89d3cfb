"""SQLite schema of a data dir, and row ⇄ domain mapping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scenesearch.server.domain import Scene, Vectors, Video

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- AUTOINCREMENT: ids are never reused, so a FAISS id of a deleted scene can never
-- point at a newer one.
CREATE TABLE IF NOT EXISTS videos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    duration_s REAL NOT NULL, fps REAL NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
    frame_count INTEGER NOT NULL, scene_count INTEGER NOT NULL, sample_count INTEGER NOT NULL,
    rotation INTEGER NOT NULL DEFAULT 0, ingested_at REAL NOT NULL,
    -- 'ingesting' rows reserve an id while the worker decodes; they have no scenes, so
    -- nothing of them is searchable until the commit that makes them 'ready'.
    status TEXT NOT NULL DEFAULT 'ready'
);
CREATE TABLE IF NOT EXISTS scenes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, start_s REAL NOT NULL, end_s REAL NOT NULL,
    start_frame INTEGER NOT NULL, end_frame INTEGER NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS scenes_video ON scenes(video_id, idx);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    scene_id INTEGER NOT NULL REFERENCES scenes(id) ON DELETE CASCADE,
    frame_no INTEGER NOT NULL, time_s REAL NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS frames_video ON frames(video_id, frame_no);
CREATE INDEX IF NOT EXISTS frames_scene ON frames(scene_id);
-- Videos the catalog deleted whose vectors an outside vector store (Milvus) still holds:
-- written in the catalog's delete transaction, cleared once the store dropped them, retried
-- at start-up after a crash in between.
CREATE TABLE IF NOT EXISTS vector_deletes (video_id INTEGER PRIMARY KEY);
"""


@dataclass(frozen=True, slots=True)
class FrameMatrix:
    """One video's (or scene's) sampled frames in time order."""

    times_s: np.ndarray
    vectors: Vectors
    scene_ids: np.ndarray


def to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def from_blobs(blobs: Sequence[bytes], dim: int) -> Vectors:
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim).copy()


def video_from_row(row: dict[str, Any]) -> Video:
    return Video(
        id=row["id"],
        path=row["path"],
        content_hash=row["content_hash"],
        duration_s=row["duration_s"],
        fps=row["fps"],
        width=row["width"],
        height=row["height"],
        frame_count=row["frame_count"],
        scene_count=row["scene_count"],
        sample_count=row["sample_count"],
        ingested_at=row["ingested_at"],
        rotation=row["rotation"],
        status=row["status"],
    )


def scene_from_row(row: dict[str, Any]) -> Scene:
    return Scene(
        id=row["id"],
        video_id=row["video_id"],
        index=row["idx"],
        start_s=row["start_s"],
        end_s=row["end_s"],
        start_frame=row["start_frame"],
        end_frame=row["end_frame"],
    )
