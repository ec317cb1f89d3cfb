"""Chinese CLIP (`ChineseCLIPModel` + `ChineseCLIPProcessor`), e.g.
OFA-Sys/chinese-clip-vit-base-patch16: a CLIP vision tower with a Chinese BERT text tower."""

from __future__ import annotations

from scenesearch.server.models.base import DualEncoder


class ChineseClipEmbedder(DualEncoder):
    family = "chinese_clip"
    model_class = "ChineseCLIPModel"
    processor_class = "ChineseCLIPProcessor"
