"""The ready scenes' rows (no vectors), kept in memory so a search costs no SQLite query.

A search needs, per hit, its scene row and its video's path, and a filter needs the scene ids
of some videos or of a time range. At 1,000 hits the SQLite lookups cost about as much as
the HNSW search itself (12.7 vs 15 ms at 100k scenes, cProfile), so they come from this
in-memory snapshot: 72 bytes a scene (five int64 and two float64 columns, two int64
orderings), 72 MB at 1M scenes.

The snapshot is rebuilt when the store generation moves. New scenes are read by id (ids only
grow: AUTOINCREMENT), deleted videos are dropped. A video's scenes and its `ready` status are
committed in one transaction, so a scene row read here is never of a video that is still
being ingested. A search sees the library as of its refresh: a video deleted after that is
dropped from the hits only by the next search, as with any read that precedes a delete.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from scenesearch.server.index.base import Ids
from scenesearch.server.storage.scene_rows import ready_video_paths, scene_rows_after
from scenesearch.server.storage.store import Store

ID, VIDEO, INDEX, START_FRAME, END_FRAME = range(5)  # columns of SceneTable.ints
START_S, END_S = range(2)  # columns of SceneTable.floats


def _no_ints() -> np.ndarray:
    return np.zeros((0, 5), np.int64)


def _no_floats() -> np.ndarray:
    return np.zeros((0, 2), np.float64)


@dataclass(frozen=True, slots=True)
class SceneTable:
    """One consistent snapshot. Rows in scene id order; `by_video` orders them by (video, id)."""

    generation: int = -1
    ints: np.ndarray = field(default_factory=_no_ints)
    floats: np.ndarray = field(default_factory=_no_floats)
    by_video: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    videos_by_video: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    paths: dict[int, str] = field(default_factory=dict)
    # The distinct videos, sorted, and where each one's rows start in `by_video` (one more
    # entry: the end). Looking videos up here, not in the per-scene `videos_by_video`, keeps
    # the binary searches in cache: for 5,000 videos at 1M scenes, 0.1 ms instead of 1.5.
    video_list: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    video_starts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))

    def spans(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[start, end) in `by_video` of each of the `wanted` (sorted, unique) videos (empty
        for unknown ones)."""
        at = np.minimum(np.searchsorted(self.video_list, wanted), max(len(self.video_list) - 1, 0))
        known = self.video_list[at] == wanted if len(self.video_list) else wanted < 0
        at = at[known]
        return self.video_starts[at], self.video_starts[at + 1]

    @property
    def ids(self) -> np.ndarray:
        return self.ints[:, ID]

    def positions(self, ids: Ids) -> tuple[np.ndarray, np.ndarray]:
        """(found mask over `ids`, row of each found id)."""
        all_ids = self.ids
        pos = np.searchsorted(all_ids, ids)
        safe = np.minimum(pos, max(len(all_ids) - 1, 0))
        found = (pos < len(all_ids)) & (all_ids[safe] == ids) if len(all_ids) else pos < 0
        return found, pos[found]


class SceneDirectory:
    """Scene rows of every ready video, refreshed when the store generation moves."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._table = SceneTable()

    def table(self) -> SceneTable:
        """The current snapshot (refreshed first if the store has moved on)."""
        generation = self._store.generation()
        table = self._table
        if generation == table.generation:
            return table
        with self._lock:
            if generation != self._table.generation:
                self._table = self._refreshed(self._table, generation)
            return self._table

    def _refreshed(self, old: SceneTable, generation: int) -> SceneTable:
        conn = self._store.db.conn
        last_id = int(old.ints[-1, ID]) if len(old.ints) else 0
        new_ints, new_floats = scene_rows_after(conn, last_id)
        paths = ready_video_paths(conn)
        ints = np.concatenate([old.ints, new_ints])
        floats = np.concatenate([old.floats, new_floats])
        live = np.isin(ints[:, VIDEO], np.fromiter(paths, np.int64, len(paths)))
        if not live.all():
            ints, floats = ints[live], floats[live]
        by_video = np.lexsort((ints[:, ID], ints[:, VIDEO]))
        videos_by_video = ints[by_video, VIDEO]
        starts = np.flatnonzero(np.r_[True, videos_by_video[1:] != videos_by_video[:-1]])
        starts = starts[: len(videos_by_video)]  # (an empty table: no video starts)
        return SceneTable(
            generation,
            ints,
            floats,
            by_video,
            videos_by_video,
            paths,
            videos_by_video[starts],
            np.r_[starts, len(videos_by_video)].astype(np.int64),
        )

    def scenes_of(self, video_ids: Iterable[int]) -> Ids:
        """Sorted scene ids of these videos (unknown or not-ready videos have none)."""
        table = self.table()
        wanted = np.unique(np.fromiter(video_ids, dtype=np.int64))
        return table.ids[self._rows_of(table, wanted)]

    def count_of(self, video_ids: Iterable[int]) -> int:
        """How many ready scenes these videos have (without building their ids)."""
        lo, hi = self.table().spans(np.unique(np.fromiter(video_ids, dtype=np.int64)))
        return int((hi - lo).sum())

    def of_videos(self, ids: Ids, video_ids: np.ndarray) -> npt.NDArray[np.bool_]:
        """Mask over `ids`: ready scenes of the (sorted, unique) `video_ids`."""
        table = self.table()
        found, rows = table.positions(ids)
        mask = np.zeros(len(ids), dtype=bool)
        mask[found] = np.isin(table.ints[rows, VIDEO], video_ids)
        return mask

    def overlapping(
        self, start_s: float, end_s: float | None, video_ids: Iterable[int] = ()
    ) -> Ids:
        """Sorted ids of ready scenes overlapping [start_s, end_s] of their video (end None:
        to the end), optionally only of `video_ids`."""
        table = self.table()
        wanted = np.unique(np.fromiter(video_ids, dtype=np.int64))
        rows = self._rows_of(table, wanted) if len(wanted) else np.arange(len(table.ints))
        floats = table.floats[rows]
        keep = floats[:, END_S] > start_s
        if end_s is not None:
            keep &= floats[:, START_S] <= end_s
        return table.ids[rows[keep]]

    @staticmethod
    def _rows_of(table: SceneTable, wanted: np.ndarray) -> np.ndarray:
        """Rows, in id order, of the scenes of the `wanted` (sorted, unique) videos."""
        lo, hi = table.spans(wanted)
        spans = [(a, b) for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a]
        if not spans:
            return np.zeros(0, np.int64)
        if sum(b - a for a, b in spans) * 8 >= len(table.ints):
            # a large share: one pass over the id-ordered rows is cheaper than sorting, with
            # a lookup table of the videos (np.isin would sort all the rows' video ids)
            member = np.zeros(int(table.videos_by_video[-1]) + 1, dtype=bool)
            member[wanted[wanted < len(member)]] = True
            return np.flatnonzero(member[table.ints[:, VIDEO]])
        return np.sort(np.concatenate([table.by_video[a:b] for a, b in spans]))
