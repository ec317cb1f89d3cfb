"""SigLIP 2 (`Siglip2Model` + `Siglip2Processor`), e.g. google/siglip2-base-patch16-224.

Same text padding and sigmoid scoring as SigLIP. Its image processor (NaFlex) resizes each
image to at most `max_num_patches` patches at the native aspect ratio and also returns a patch
mask and the patch grid's shape, which the shared code passes on to the model unchanged.
"""

from __future__ import annotations

from scenesearch.server.models.siglip import SiglipEmbedder


class Siglip2Embedder(SiglipEmbedder):
    family = "siglip2"
    model_class = "Siglip2Model"
    processor_class = "Siglip2Processor"
    # NaFlex resizes the position embeddings to each image's patch grid: a traced graph would
    # keep the example's grid and give wrong vectors for other aspect ratios.
    export_blocker = "its NaFlex position embeddings follow each image's shape"
