"""How one search is carried out, chosen per query by how much of the library it may return.

The rule (n = scenes in the selected videos, minus excluded ones; N = scenes in the index;
f = n / N):

1. No `video_ids`: the index searches everything. Exclusions (the query scene itself, its
   video with `exclude_same_video`) are a deny-selector inside the index (flat, HNSW, IVF)
   or are dropped from LSH's Hamming candidates before re-ranking. No over-fetch.
2. `video_ids` and n <= the exact limit, max(4,096, sqrt(EXACT_CROSSOVER * N)): score the n
   stored vectors exactly (one matmul); vectors come from the index's own storage where it
   keeps raw vectors (HNSW, IVF-PQ before training), else from the store's read copy of the
   scene vectors (storage/vector_cache.py; SQLite while that is being built). Exact, so
   recall is 1 by construction. Flat never takes this path: its scan with a selector
   already scores only the selected rows. Why the square root: exact scoring costs about
   0.5 us a vector (c_e * n), while an index filtered to a share f = n / N must widen its
   search by 1 / f to keep recall (c_h * efSearch * N / n); the two meet at
   n = sqrt(c_h / c_e * efSearch * N). Measured at 100k scenes (HNSW): c_e 0.5 us, c_h 6.5 us
   per unit of efSearch, efSearch 128, so EXACT_CROSSOVER = 13 * 128: 12.9k scenes at 100k,
   40.8k at 1M. Filtered to 1% and 3% at 100k, the selector took 30 ms for recall 0.93-0.98;
   scoring the 1,000-3,000 scenes exactly took 1-2 ms.
3. `video_ids` keeping f >= POST_FILTER_FRACTION (1/4) of an approximate index: search as if
   unfiltered for POST_FILTER_WIDEN * k / f candidates (at most 8k) and keep the selected
   ones. An approximate index pays for its search width, not for k, up to that width (HNSW's
   efSearch, IVF's probed lists), so at k=10 this costs what an unfiltered search costs,
   and its recall is the unfiltered search's. When fewer than k of them are selected (the
   query's neighbours lie mostly outside the filter), the search goes on as in 4.
4. Otherwise the index filters with an IDSelector over the selected ids. HNSW raises efSearch
   to efSearch / f (at most 4,096); IVF-PQ raises nprobe to nprobe / f (up to nlist) and,
   below half the library, re-ranks up to 4x more candidates; LSH fetches k * rerank / f
   Hamming candidates and filters them before the exact re-rank. (A selector keeps recall
   where neighbours are scarce: at 100k scenes, HNSW filtered to 3% needed efSearch 4,267
   for recall 0.99 and reached 0.76 at efSearch 128.)

`min_score` never widens a search: results come back best first, so the top_k are cut at the
first score below it, and an unreachable `min_score` costs one ordinary search. Ids the index
returns that SQLite no longer has (a delete between the two commits) are dropped; only then is
the search repeated with a larger k.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from scenesearch.server.index.base import IdFilter, Ids

# Per index kind, a fixed limit on the selection scored exactly, overriding the rule (None:
# never; the index filters itself, as flat's selector scan is already exact).
EXACT_LIMIT: dict[str, int | None] = {"flat": None}
# The rule's floor, and c_h / c_e * efSearch (see rule 2 above).
DEFAULT_EXACT_LIMIT = 4096
EXACT_CROSSOVER = 13 * 128


def exact_limit(
    kind: str, total: int, limits: Mapping[str, int | None] = EXACT_LIMIT
) -> int | None:
    """The largest selection of an index of `total` scenes that is scored exactly."""
    if kind in limits:
        return limits[kind]
    return max(DEFAULT_EXACT_LIMIT, math.isqrt(EXACT_CROSSOVER * max(total, 0)))


# Share of the index a filter must keep for the post-filtered search (rule 3), and how many
# candidates per result it asks for, over that share.
POST_FILTER_FRACTION = 0.25
POST_FILTER_WIDEN = 2.0


@dataclass(frozen=True, slots=True)
class Plan:
    """`exact`: score `id_filter.allow` from stored vectors; else the index searches with
    `id_filter` (None: unfiltered). `nothing`: the filter selects no scene at all.

    `post_filter` (rule 3): `id_filter` holds the exclusions only; the index is searched for
    `widen` times as many, and what is kept is `keep_ids`, or, for a filter by videos alone,
    the scenes of `keep_videos` (then no id list is built: at 1M scenes, building half of
    them cost more than the search)."""

    id_filter: IdFilter | None
    exact: bool = False
    nothing: bool = False
    post_filter: bool = False
    widen: float = 1.0
    keep_ids: Ids | None = None
    keep_videos: Ids | None = None


def post_filter_plan(
    kind: str,
    selected: int,
    deny: Ids,
    total: int,
    exact_limits: Mapping[str, int | None] = EXACT_LIMIT,
) -> Plan | None:
    """Rule 3 for `selected` scenes out of `total`, or None when another rule applies. The
    caller sets what to keep."""
    limit = exact_limit(kind, total, exact_limits)
    if limit is None or selected <= limit or selected < POST_FILTER_FRACTION * total:
        return None
    excluded = IdFilter(None, deny) if len(deny) else None
    return Plan(excluded, post_filter=True, widen=POST_FILTER_WIDEN * total / selected)


def choose_plan(
    kind: str,
    allow: Ids | None,
    deny: Ids,
    total: int,
    exact_limits: Mapping[str, int | None] = EXACT_LIMIT,
) -> Plan:
    """`total`: scenes in the index (N)."""
    if allow is None:
        return Plan(IdFilter(None, deny) if len(deny) else None)
    if len(deny):  # (isin scans `allow` once per denied id: they are few)
        allow = allow[~np.isin(allow, deny)]
    if len(allow) == 0:
        return Plan(None, nothing=True)
    post = post_filter_plan(kind, len(allow), deny, total, exact_limits)
    if post is not None:
        return replace(post, keep_ids=allow)
    limit = exact_limit(kind, total, exact_limits)
    return Plan(IdFilter(allow), exact=limit is not None and len(allow) <= limit)
