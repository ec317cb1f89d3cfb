"""Scene rows (no vectors) and ready videos' paths, read in bulk for the in-memory scene
directory (query/scene_directory.py)."""

from __future__ import annotations

import sqlite3

import numpy as np

# Column order of `scene_rows_after`'s integer and float arrays.
INT_COLUMNS = ("id", "video_id", "idx", "start_frame", "end_frame")
FLOAT_COLUMNS = ("start_s", "end_s")


def scene_rows_after(conn: sqlite3.Connection, after_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Every scene with id > after_id in id order: an (n, 5) int64 array of INT_COLUMNS and
    an (n, 2) float64 array of FLOAT_COLUMNS."""
    rows = conn.execute(
        f"SELECT {', '.join(INT_COLUMNS + FLOAT_COLUMNS)} FROM scenes WHERE id > ? ORDER BY id",
        (after_id,),
    ).fetchall()
    if not rows:
        return np.zeros((0, len(INT_COLUMNS)), np.int64), np.zeros((0, 2), np.float64)
    # float64 holds every SQLite integer id below 2**53 exactly; one conversion for all columns
    values = np.array(rows, dtype=np.float64)
    ints = len(INT_COLUMNS)
    return values[:, :ints].astype(np.int64), np.ascontiguousarray(values[:, ints:])


def ready_video_paths(conn: sqlite3.Connection) -> dict[int, str]:
    """Path of every ready video, by id."""
    return dict(conn.execute("SELECT id, path FROM videos WHERE status = 'ready'").fetchall())
