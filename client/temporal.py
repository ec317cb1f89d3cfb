"""The request of `SceneSearchClient.temporal_search`, kept here so remote.py stays small."""

from __future__ import annotations

from collections.abc import Sequence

from scenesearch.client.results import TemporalStep
from scenesearch.contract import DEFAULT_TOP_K
from scenesearch.v1 import scenesearch_pb2 as pb


def temporal_request(
    steps: Sequence[TemporalStep],
    max_gap_s: float | None = None,
    *,
    smooth: int = 0,
    top_k: int = DEFAULT_TOP_K,
    video_ids: Sequence[int] = (),
    shortlist_scenes: int = 0,
    exhaustive: bool = False,
) -> pb.TemporalSearchRequest:
    request = pb.TemporalSearchRequest(
        steps=[s.to_proto() for s in steps],
        smooth=smooth,
        top_k=top_k,
        video_ids=video_ids,
        shortlist_scenes=shortlist_scenes,
        exhaustive=exhaustive,
    )
    if max_gap_s is not None:
        request.max_gap_s = max_gap_s
    return request
