"""Scene thumbnails in SQLite: one small JPEG per scene, deleted with its scene.

A table of its own, created on open, so data dirs from before thumbnails existed simply start
with it empty; their thumbnails are made on first request (playback/thumbnails.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from scenesearch.server.domain import SceneThumbnail
from scenesearch.server.storage.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS thumbnails (
    scene_id INTEGER PRIMARY KEY REFERENCES scenes(id) ON DELETE CASCADE,
    time_s REAL NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
    jpeg BLOB NOT NULL
);
"""


class ThumbnailTable:
    def __init__(self, store: Store) -> None:
        self._store = store
        store.db.conn.executescript(SCHEMA)

    def add(self, scene_ids: Sequence[int], thumbnails: Sequence[SceneThumbnail]) -> None:
        """Thumbnails of a just-committed video (thumbnail i belongs to scene i)."""
        if not thumbnails:
            return
        rows = [
            (scene_ids[t.scene_index], t.time_s, t.width, t.height, t.jpeg)
            for t in thumbnails
            if t.scene_index < len(scene_ids)
        ]
        with self._store.write(searchable=False) as conn:
            self._insert(conn, rows)

    def put(self, scene_id: int, thumbnail: SceneThumbnail) -> None:
        with self._store.write(searchable=False) as conn:
            self._insert(
                conn,
                [(scene_id, thumbnail.time_s, thumbnail.width, thumbnail.height, thumbnail.jpeg)],
            )

    def get(self, scene_id: int) -> SceneThumbnail | None:
        row = self._store.db.execute(
            "SELECT time_s, width, height, jpeg FROM thumbnails WHERE scene_id = ?", (scene_id,)
        ).fetchone()
        if row is None:
            return None
        return SceneThumbnail(-1, float(row[0]), bytes(row[3]), int(row[1]), int(row[2]))

    @staticmethod
    def _insert(conn: sqlite3.Connection, rows: list[tuple[int, float, int, int, bytes]]) -> None:
        # A scene deleted meanwhile has no row to refer to: skip it rather than fail.
        conn.executemany(
            "INSERT OR REPLACE INTO thumbnails (scene_id, time_s, width, height, jpeg) "
            "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM scenes WHERE id = ?1)",
            rows,
        )
