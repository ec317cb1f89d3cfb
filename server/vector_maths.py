"""Vector maths shared by ingest, storage and queries. numpy only, so pure modules that need
it (sampling, analytics) never import torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from scenesearch.server.domain import Vectors


def normalise(vectors: npt.NDArray[np.floating[Any]]) -> Vectors:
    """L2-normalise rows; zero rows stay zero instead of becoming NaN."""
    arr = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=-1, keepdims=True)
    return (arr / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
