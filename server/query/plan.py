"""How one search is carried out, chosen per query by how much of the library it may return.

The rule (n = scenes in the selected videos, minus excluded ones):

1. No `video_ids`: the index searches everything. Exclusions (the query scene itself, its
   video with `exclude_same_video`) are a deny-selector inside the index (flat, HNSW, IVF)
   or are dropped from LSH's Hamming candidates before re-ranking. No over-fetch.
2. `video_ids` and n <= EXACT_LIMIT[kind] (4,096): score the n stored vectors exactly (one
   matmul); vectors come from the index's own storage where it keeps raw vectors (HNSW,
   IVF-PQ before training), else from the store's read copy of the scene vectors
   (storage/vector_cache.py; SQLite while that is being built). Exact, so recall is 1 by
   construction. Flat never takes this path: its scan with a selector already scores only
   the selected rows.
3. Otherwise the index filters with an IDSelector over the selected ids. HNSW raises efSearch
   to efSearch / fraction kept (at most 4,096); IVF-PQ raises nprobe to nprobe / fraction (up
   to nlist) and, below half the library, re-ranks up to 4x more candidates; LSH fetches
   k * rerank / fraction Hamming candidates and filters them before the exact re-rank.

`min_score` never widens a search: results come back best first, so the top_k are cut at the
first score below it, and an unreachable `min_score` costs one ordinary search. Ids the index
returns that SQLite no longer has (a delete between the two commits) are dropped; only then is
the search repeated with a larger k.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scenesearch.server.index.base import IdFilter, Ids

# Largest selection scored exactly, per index kind (None: never; the index filters itself).
# Copying and scoring 4,096 vectors out of HNSW's own storage, or out of the store's read copy
# of the scene vectors, takes about 2 ms here, about what an HNSW search with efSearch raised
# by 1 / fraction costs. (Before that read copy existed, IVF-PQ and LSH read exact vectors
# from SQLite and switched to the index at 256 and 1,024.)
DEFAULT_EXACT_LIMIT = 4096
EXACT_LIMIT: dict[str, int | None] = {"flat": None}


@dataclass(frozen=True, slots=True)
class Plan:
    """`exact`: score `id_filter.allow` from stored vectors; else the index searches with
    `id_filter` (None: unfiltered). `nothing`: the filter selects no scene at all."""

    id_filter: IdFilter | None
    exact: bool = False
    nothing: bool = False


def choose_plan(
    kind: str, allow: Ids | None, deny: Ids, exact_limits: Mapping[str, int | None] = EXACT_LIMIT
) -> Plan:
    if allow is None:
        return Plan(IdFilter(None, deny) if len(deny) else None)
    if len(deny):
        allow = np.setdiff1d(allow, deny, assume_unique=True)
    if len(allow) == 0:
        return Plan(None, nothing=True)
    limit = exact_limits.get(kind, DEFAULT_EXACT_LIMIT)
    return Plan(IdFilter(allow), exact=limit is not None and len(allow) <= limit)
