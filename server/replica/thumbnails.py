"""Thumbnails on a replica: the primary's own (the JPEG it stored at ingest), asked for once
per scene and kept in the mirror; made from the video's file, as any server does, when the
primary cannot be reached (that needs the media mounted at the same path on the replica)."""

from __future__ import annotations

import logging

import grpc

from scenesearch.server.domain import SceneThumbnail
from scenesearch.server.errors import NotFound
from scenesearch.server.playback.thumbnails import Thumbnails
from scenesearch.server.replica.primary import Primary
from scenesearch.server.storage.store import Store
from scenesearch.server.storage.thumbnails import ThumbnailTable
from scenesearch.server.storage.video_files import VideoFiles

log = logging.getLogger(__name__)


class ReplicaThumbnails(Thumbnails):
    def __init__(
        self, store: Store, table: ThumbnailTable, files: VideoFiles, primary: Primary
    ) -> None:
        super().__init__(store, table, files)
        self._primary = primary

    def get(self, scene_id: int) -> SceneThumbnail:
        stored = self._table.get(scene_id)
        if stored is not None:
            return stored
        if not self._store.scenes_by_ids([scene_id]):  # not synced here yet, or deleted
            raise NotFound(f"scene {scene_id} does not exist on this replica (yet)")
        try:
            response = self._primary.thumbnail(scene_id)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound(exc.details() or f"scene {scene_id} has no thumbnail") from exc
            log.warning("replica: no thumbnail from the primary (%s); making it here", exc.code())
            return super().get(scene_id)  # from the shared media file; kept too
        thumbnail = SceneThumbnail(
            -1, response.time_s, response.jpeg, response.width, response.height
        )
        self._table.put(scene_id, thumbnail)
        return thumbnail
