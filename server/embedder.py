"""The embedder seam the rest of the server imports; the adapters live in server/models/.

`load_embedder(model_id, device, precision)` loads any supported family. `ClipEmbedder` is the
CLIP adapter (its constructor is what the benchmarks use with in-memory random models).
"""

from __future__ import annotations

from scenesearch.server.models import (
    FAMILIES,
    DualEncoder,
    TextEmbedding,
    decode_image,
    load_embedder,
)
from scenesearch.server.models.clip import ClipEmbedder

Embedder = DualEncoder

__all__ = [
    "FAMILIES",
    "ClipEmbedder",
    "DualEncoder",
    "Embedder",
    "TextEmbedding",
    "decode_image",
    "load_embedder",
]
