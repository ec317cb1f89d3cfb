"""The model families scenesearch can load, registered by name (config.json's model_type).

Adding a family is one adapter module and one entry in ADAPTERS; nothing else branches on it.
"""

from __future__ import annotations

from scenesearch.server.errors import ModelLoadError
from scenesearch.server.models.altclip import AltClipEmbedder
from scenesearch.server.models.base import DualEncoder, read_model_type
from scenesearch.server.models.chinese_clip import ChineseClipEmbedder
from scenesearch.server.models.clip import ClipEmbedder
from scenesearch.server.models.siglip import SiglipEmbedder
from scenesearch.server.models.siglip2 import Siglip2Embedder

ADAPTERS: tuple[type[DualEncoder], ...] = (
    ClipEmbedder,
    SiglipEmbedder,
    Siglip2Embedder,
    AltClipEmbedder,
    ChineseClipEmbedder,
)
FAMILIES: dict[str, type[DualEncoder]] = {adapter.family: adapter for adapter in ADAPTERS}


def adapter_for(model_type: str, model_id: str = "") -> type[DualEncoder]:
    """The adapter registered for `model_type`, or a ModelLoadError listing the supported."""
    try:
        return FAMILIES[model_type]
    except KeyError:
        name = f"model {model_id!r}" if model_id else "the model"
        raise ModelLoadError(
            f"{name} is a {model_type!r} checkpoint, which scenesearch cannot use; it loads "
            f"image-text dual encoders whose config.json model_type is one of: "
            f"{', '.join(sorted(FAMILIES))}"
        ) from None


def load_embedder(model_id: str, device: str = "auto", precision: str = "auto") -> DualEncoder:
    """Load any supported checkpoint (hub id or local directory), picking its family from
    config.json's model_type."""
    adapter = adapter_for(read_model_type(model_id), model_id)
    return adapter.load_checkpoint(model_id, device, precision)
