"""A search replica's own parts, which app.start_replica serves: checks of the primary, the
catalog mirror, the read-only Milvus index, the sync thread and the write refusal.

The replica holds no state that matters: its data dir is a scratch copy of the primary's
catalog (rebuilt when it is of another store or model) and Milvus is only read. It runs no
ingest worker and no job runner, and loads only its query-side model, which must be the
primary's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

import grpc

from scenesearch.server.api.service import ServiceDeps
from scenesearch.server.config import Settings
from scenesearch.server.errors import ModelMismatch
from scenesearch.server.index.milvus import MilvusIndex
from scenesearch.server.metrics.base import Metrics
from scenesearch.server.replica.methods import ReplicaInterceptor
from scenesearch.server.replica.mirror import CatalogMirror
from scenesearch.server.replica.mirror_store import MirrorStore, open_mirror
from scenesearch.server.replica.primary import Primary
from scenesearch.server.replica.syncer import Syncer
from scenesearch.server.replica.thumbnails import ReplicaThumbnails
from scenesearch.server.storage.milvus_vectors import MilvusVectors
from scenesearch.server.storage.thumbnails import ThumbnailTable
from scenesearch.v1 import scenesearch_pb2 as pb

log = logging.getLogger(__name__)


class NoJobs:
    """The job runner of a server that ingests nothing: GetStats shows no jobs; the RPCs
    that would submit one are refused before they reach the service (methods.py)."""

    def counts(self) -> tuple[int, int]:
        return 0, 0

    def stop(self) -> None:
        pass


@dataclass
class Replica:
    primary: Primary
    store: MirrorStore
    index: MilvusIndex
    mirror: CatalogMirror
    interceptor: grpc.ServerInterceptor
    syncer: Syncer | None = None

    def start_sync(self, every_s: float, on_failure: Callable[[str], None]) -> None:
        self.syncer = Syncer(self.mirror, every_s, on_failure)
        self.syncer.start()

    def serving(self, deps: ServiceDeps) -> ServiceDeps:
        """The replica's changes to the parts every server has: thumbnails from the primary."""
        table = ThumbnailTable(self.store)
        thumbnails = ReplicaThumbnails(self.store, table, deps.files, self.primary)
        return replace(deps, thumbnails=thumbnails)

    def close(self) -> None:
        if self.syncer is not None:
            self.syncer.stop()
        self.primary.close()


def primary_stats(primary: Primary, settings: Settings) -> pb.GetStatsResponse:
    """The primary's stats, refusing a primary this replica cannot serve for."""
    try:
        stats = primary.stats()
    except grpc.RpcError as exc:
        raise ValueError(
            f"cannot reach the primary at {primary.address} "
            f"({exc.code()}: {exc.details()}); start it first, or fix --replica-of"
        ) from exc
    if stats.index_params.get("backend") != "milvus" or not stats.store_id:
        raise ValueError(
            f"the primary at {primary.address} does not keep its vectors in Milvus: a replica "
            "needs a primary started with --backend milvus (and the same --milvus-uri)"
        )
    if stats.model != settings.model:
        raise ModelMismatch(
            f"the primary at {primary.address} serves model {stats.model!r} and this replica "
            f"was started with {settings.model!r}: their vectors are not comparable. Start it "
            f"with --model {stats.model!r}"
        )
    return stats


def open_replica(settings: Settings, metrics: Metrics) -> Replica:
    """Check the primary, open the mirror and the read-only index (nothing synced yet)."""
    if settings.milvus is None:
        raise ValueError("--replica-of needs --milvus-uri: the primary's Milvus")
    primary = Primary(settings.replica_of, settings.auth_token)
    try:
        stats = primary_stats(primary, settings)
        store = open_mirror(settings.data_dir, stats, settings.milvus)
        vectors = store.vectors
        assert isinstance(vectors, MilvusVectors) and vectors.read_only
        params = {k: v for k, v in stats.index_params.items() if k != "backend"}
        index = MilvusIndex(
            store, vectors, stats.index_kind, {**params, **settings.index_params}, metrics
        )
        index.open()
        mirror = CatalogMirror(store, primary, index, settings.model, settings.index_params)
    except BaseException:
        primary.close()
        raise
    log.info(
        "replica of %s (store %s, model %s): mirror in %s",
        primary.address,
        stats.store_id,
        stats.model,
        settings.data_dir,
    )
    return Replica(primary, store, index, mirror, ReplicaInterceptor(primary.address))
