"""CLIP (`CLIPModel` + `CLIPProcessor`), e.g. openai/clip-vit-base-patch32."""

from __future__ import annotations

from scenesearch.server.models.base import DualEncoder


class ClipEmbedder(DualEncoder):
    """OpenAI CLIP and its fine-tunes: 77-token context, padded to the longest text."""

    family = "clip"
    model_class = "CLIPModel"
    processor_class = "CLIPProcessor"
