"""Image-text dual encoders: one adapter per model family, chosen by config.json's model_type.

`load_embedder(model_id, device, precision)` returns the family's `DualEncoder`; its
`embed_images` and `embed_texts` give L2-normalised float32 vectors, and `calibrate(cosine)`
turns cosines into the family's calibrated score.
"""

from scenesearch.server.models.base import DualEncoder, TextEmbedding, decode_image
from scenesearch.server.models.registry import FAMILIES, adapter_for, load_embedder

__all__ = [
    "FAMILIES",
    "DualEncoder",
    "TextEmbedding",
    "adapter_for",
    "decode_image",
    "load_embedder",
]
