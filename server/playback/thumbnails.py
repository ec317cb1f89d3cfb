"""Scene thumbnails on request: stored ones as they are, missing ones made once and kept.

Data dirs from before thumbnails existed have none. The first request for such a scene picks
its frame by the ingest rule (the sampled frame nearest the scene vector), decodes that one
frame from the video's file, stores the JPEG and returns it, so old libraries never fail.
"""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np

from scenesearch.server.domain import SceneThumbnail
from scenesearch.server.errors import NotFound
from scenesearch.server.ingest.pipeline.pictures import upright_at_width
from scenesearch.server.ingest.pipeline.thumbnail import THUMBNAIL_WIDTH, encode_thumbnail
from scenesearch.server.storage.store import Store
from scenesearch.server.storage.thumbnails import ThumbnailTable
from scenesearch.server.storage.video_files import VideoFiles

log = logging.getLogger(__name__)


class Thumbnails:
    def __init__(self, store: Store, table: ThumbnailTable, files: VideoFiles) -> None:
        self._store, self._table, self._files = store, table, files

    def get(self, scene_id: int) -> SceneThumbnail:
        stored = self._table.get(scene_id)
        if stored is not None:
            return stored
        scene, vector = self._store.scene_vector(scene_id)  # NotFound for unknown scenes
        frames = self._store.frames_of_scenes([scene_id])
        time_s = scene.start_s
        if len(frames.times_s):
            time_s = float(frames.times_s[int(np.argmax(frames.vectors @ vector))])
        video = self._store.get_video(scene.video_id)
        path = self._files.location(video)
        if path is None:
            raise NotFound(
                f"scene {scene_id} has no thumbnail yet and its video's file is no longer on "
                "the server, so none can be made"
            )
        jpeg, width, height = encode_thumbnail(frame_at(path, time_s))
        thumbnail = SceneThumbnail(scene.index, time_s, jpeg, width, height)
        self._table.put(scene_id, thumbnail)
        log.info("made the missing thumbnail of scene %d (%.2fs)", scene_id, time_s)
        return thumbnail


def frame_at(path: Path, time_s: float) -> np.ndarray:
    """The upright RGB frame shown at `time_s` (seconds from the first frame), decoded from
    the keyframe before it. Times are relative to the first frame, as ingest records them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = container.streams.video[0].start_time or 0
        tb = float(stream.time_base or 0) or 1 / 90000
        target = base + int(time_s / tb)
        container.seek(max(target, base), stream=stream, backward=True)
        chosen = None
        for frame in container.decode(stream):
            if frame.pts is not None and frame.pts > target and chosen is not None:
                break
            chosen = frame
        if chosen is None:
            raise NotFound(f"no frame could be decoded near {time_s:.2f}s of {path.name}")
        rotation = int(getattr(chosen, "rotation", 0) or 0)
        return upright_at_width(chosen, rotation, THUMBNAIL_WIDTH)
