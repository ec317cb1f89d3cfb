"""End to end through a real gRPC server on `--backend milvus`: the FAISS suite's ingest,
search, filter, time range, composite (negative terms re-ranked with the stored vectors),
delete, dedup and analytics tests, imported unchanged (tests/milvus/conftest.py
gives them a Milvus-backed `server`), and what only this backend has to show."""

from __future__ import annotations

import numpy as np
from pymilvus import MilvusClient

from scenesearch.client.remote import SceneSearchClient
from scenesearch.server.app import RunningServer
from scenesearch.server.storage.store import Store
from tests.helpers import ingest
from tests.support.synthetic import WrittenVideo
from tests.test_composite_search import (  # noqa: F401  (with their fixtures)
    library,
    server_client,
    test_composite_scores_follow_the_formula_exactly,
    test_per_video_limit_time_range_and_time_order,
)
from tests.test_e2e import (  # noqa: F401  (collected and run here, on Milvus)
    test_delete_removes_video_from_search,
    test_filters_top_k_and_min_score,
    test_image_of_scene_k_finds_scene_k_first,
    test_reingest_same_content_is_not_duplicated,
    test_text_search_returns_well_formed_ranked_hits,
)
from tests.test_e2e_analytics import (  # noqa: F401
    test_classify_labels_the_right_time_ranges,
    test_timeline_curves_segments_csv_and_plot,
)


def test_vectors_live_in_milvus_not_in_the_catalog(
    client: SceneSearchClient, server: RunningServer, three_scenes: WrittenVideo, milvus_uri: str
) -> None:
    video_id = ingest(client, three_scenes.path)
    store = Store(server.data_dir / "scenesearch.db")  # a plain look at the catalog
    blobs = store.db.execute(
        "SELECT MAX(length(vector)) FROM scenes WHERE video_id = ?", (video_id,)
    ).fetchone()
    assert blobs[0] == 0  # scene rows without vectors
    milvus = MilvusClient(uri=milvus_uri)
    name = f"scenesearch_{store.store_id}_scenes"
    rows = milvus.query(
        name,
        filter=f"video_id == {video_id}",
        output_fields=["id", "idx", "start_s", "end_s", "vector"],
        consistency_level="Strong",
    )
    scenes = store.scenes_of_video(video_id)
    assert sorted(r["id"] for r in rows) == [s.id for s in scenes]
    assert all(abs(np.linalg.norm(r["vector"]) - 1.0) < 1e-4 for r in rows)
    stats = client.stats()
    assert stats.index_params.get("backend") == "milvus"
