"""Distributed ingest on Ray: `scenesearch ingest --ray [auto|ADDRESS] PATHS...`.

    from scenesearch.client.ray_ingest import RayIngestConfig, ingest_on_ray
    with SceneSearchClient("127.0.0.1:50051") as client:
        summary = ingest_on_ray(["/shared/videos/a.mp4"], client, RayIngestConfig())

Needs the [ray] extra here and the [server] extra on every Ray node (the tasks decode and
embed with the server's pipeline). The paths must be the same on every node (shared storage).
Importing this package does not import Ray; `ingest_on_ray` raises RayUnavailable with the
install command when it is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from scenesearch.client.ray_ingest.plan import (
    RayIngestConfig,
    RunProgress,
    RunSummary,
    VideoOutcome,
)
from scenesearch.client.ray_ingest.runtime import INSTALL_HINT, RayUnavailable, require_ray

if TYPE_CHECKING:
    from scenesearch.client.ray_ingest.driver import ProgressFn
    from scenesearch.client.remote import SceneSearchClient

__all__ = [
    "INSTALL_HINT",
    "RayIngestConfig",
    "RayUnavailable",
    "RunProgress",
    "RunSummary",
    "VideoOutcome",
    "ingest_on_ray",
]


def ingest_on_ray(
    paths: Sequence[str],
    client: SceneSearchClient,
    config: RayIngestConfig | None = None,
    on_progress: ProgressFn | None = None,
) -> RunSummary:
    """See driver.ingest_on_ray; this wrapper imports Ray only when called."""
    require_ray()
    from scenesearch.client.ray_ingest.driver import ingest_on_ray as run

    return run(paths, client, config, on_progress)
