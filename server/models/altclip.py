"""AltCLIP (`AltCLIPModel` + `AltCLIPProcessor`), e.g. BAAI/AltCLIP or BAAI/AltCLIP-m9.

A CLIP vision tower with a multilingual XLM-RoBERTa text tower. RoBERTa numbers positions
from pad_token_id + 1, so its position table holds that many fewer tokens than it has rows.
"""

from __future__ import annotations

from typing import Any

from scenesearch.server.models.base import DualEncoder


class AltClipEmbedder(DualEncoder):
    family = "altclip"
    model_class = "AltCLIPModel"
    processor_class = "AltCLIPProcessor"

    @classmethod
    def text_positions(cls, config: Any) -> int:
        text = config.text_config
        return int(text.max_position_embeddings) - int(text.pad_token_id or 0) - 1
