"""SigLIP (`SiglipModel` + `SiglipProcessor`), e.g. google/siglip-base-patch16-224.

SigLIP differs from CLIP in two ways that matter here. Its text tower was trained on texts
padded to the full context (64 tokens) with no attention mask, and it pools the last
position, so texts are always padded to `max_length` and no mask is passed. And it was trained
with a per-pair sigmoid loss, so `sigmoid(exp(logit_scale) * cos + logit_bias)` is a match
probability: that is its calibrated score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from scenesearch.server.models.base import DualEncoder


def sigmoid_score(cosine: npt.ArrayLike, scale: float, bias: float) -> npt.NDArray[np.float32]:
    """sigmoid(scale * cos + bias), computed without overflow."""
    logits = scale * np.asarray(cosine, dtype=np.float64) + bias
    return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)


class SiglipEmbedder(DualEncoder):
    family = "siglip"
    model_class = "SiglipModel"
    processor_class = "SiglipProcessor"
    text_padding = "max_length"
    text_attention_mask = False
    calibration = "sigmoid"

    def __init__(self, model: Any, processor: Any, device: torch.device, model_id: str) -> None:
        super().__init__(model, processor, device, model_id)
        # The learnt temperature and bias, read once: exp(logit_scale) and logit_bias.
        self.logit_scale = float(model.logit_scale.detach().float().exp().item())
        self.logit_bias = float(model.logit_bias.detach().float().item())

    @classmethod
    def embedding_dim(cls, config: Any) -> int:
        # No projection: image vectors are the vision pooler (vision hidden size), and the
        # text head projects to the same width.
        return int(config.vision_config.hidden_size)

    def calibrate(self, cosine: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """SigLIP's match probability, sigmoid(exp(logit_scale) * cos + logit_bias)."""
        return sigmoid_score(cosine, self.logit_scale, self.logit_bias)
