"""Composite queries: several weighted terms (texts, images, scenes) in one search.

The rule, exact:
- positive terms blend into one query vector q = normalise(sum_i w_i * v_i), so the index
  still does the candidate search;
- negative terms re-rank those candidates:
      score(scene) = cos(q, scene) - sum_j |w_j| * cos(n_j, scene)
- every hit reports cos(term, scene) for each term, in request order.

With no negative term the score is the plain cosine to q. Candidates are fetched wider than
top_k (`CANDIDATES_PER_HIT`) because a negative term can move any of them down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scenesearch.server.domain import Vectors
from scenesearch.server.errors import InvalidArgument
from scenesearch.server.vector_maths import normalise

MAX_TERMS = 16
CANDIDATES_PER_HIT = 4
MIN_CANDIDATES = 50


@dataclass(frozen=True, slots=True)
class WeightedTerms:
    """The embedded terms of one query, in request order."""

    vectors: Vectors  # (terms, dim)
    weights: npt.NDArray[np.float32]  # (terms,), never 0

    @property
    def negative(self) -> npt.NDArray[np.bool_]:
        return self.weights < 0

    @property
    def has_negatives(self) -> bool:
        return bool(self.negative.any())


def check_weights(weights: Sequence[float]) -> npt.NDArray[np.float32]:
    """Weights with 0 read as 1; InvalidArgument for queries that cannot be answered."""
    if not weights:
        raise InvalidArgument("the composite query has no terms; give at least one")
    if len(weights) > MAX_TERMS:
        raise InvalidArgument(
            f"the composite query has {len(weights)} terms; at most {MAX_TERMS} are allowed"
        )
    arr = np.asarray([w if w != 0 else 1.0 for w in weights], dtype=np.float32)
    if not np.isfinite(arr).all():
        raise InvalidArgument("term weights must be finite numbers")
    if not (arr > 0).any():
        raise InvalidArgument(
            "the composite query has only negative terms; add a positive term (what to look "
            "for) and keep the negative ones for what to push away"
        )
    return arr


def blend(terms: WeightedTerms) -> Vectors:
    """The (1, dim) query vector: the normalised weighted sum of the positive terms."""
    positive = ~terms.negative
    mixed = (terms.weights[positive, None] * terms.vectors[positive]).sum(axis=0)
    if not np.linalg.norm(mixed) > 1e-6:
        raise InvalidArgument(
            "the positive terms cancel each other out; change their weights or drop one"
        )
    return normalise(mixed[None, :])


def rescore(
    query_cos: npt.NDArray[np.float32], term_cos: npt.NDArray[np.float32], terms: WeightedTerms
) -> npt.NDArray[np.float32]:
    """Final scores from cos(q, scene) (n,) and cos(term, scene) (n, terms)."""
    penalty = term_cos[:, terms.negative] @ np.abs(terms.weights[terms.negative])
    return (query_cos - penalty).astype(np.float32)


def cosine_threshold(
    calibrate: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]],
    calibrated_min: float,
    span: float,
) -> float:
    """The smallest score whose calibrated value reaches `calibrated_min` (calibration is
    monotonic), searched over [-span, span]; +inf when none does."""
    low, high = -span, span
    if calibrate(np.asarray([high], np.float32))[0] < calibrated_min:
        return float("inf")
    if calibrate(np.asarray([low], np.float32))[0] >= calibrated_min:
        return low
    for _ in range(50):
        middle = (low + high) / 2
        if calibrate(np.asarray([middle], np.float32))[0] >= calibrated_min:
            high = middle
        else:
            low = middle
    return high
