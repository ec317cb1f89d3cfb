"""CLIP adapter: the one module that talks to transformers.

Loads a CLIP checkpoint (hub id or local directory) with `from_pretrained`, and turns RGB
frames and texts into L2-normalised float32 vectors, so inner product equals cosine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from scenesearch.server.device import preferred_dtype, select_device
from scenesearch.server.domain import Vectors
from scenesearch.server.errors import InvalidArgument, ModelLoadError
from scenesearch.server.vector_maths import normalise

log = logging.getLogger(__name__)

LOCAL_MODEL_HINT = (
    "Point the server at a local copy instead: pass --model /path/to/clip-dir or set "
    "SCENESEARCH_MODEL=/path/to/clip-dir, where the directory holds config.json, the weights "
    "(model.safetensors), preprocessor_config.json and the tokenizer files, as written by "
    "`CLIPModel.save_pretrained()` and `CLIPProcessor.save_pretrained()` on a machine that can "
    "reach the hub (or copy them from ~/.cache/huggingface there)."
)


@dataclass(frozen=True, slots=True)
class TextEmbedding:
    vectors: Vectors
    truncated: tuple[bool, ...]


def _pooled(output: Any) -> torch.Tensor:
    # transformers 5 returns a model output whose pooler_output is the projected feature;
    # 4.x returned the tensor itself.
    if isinstance(output, torch.Tensor):
        return output
    return output.pooler_output


class ClipEmbedder:
    """Image and text encoders of one CLIP model on one device."""

    def __init__(self, model: Any, processor: Any, device: torch.device, model_id: str) -> None:
        self._model = model
        self._processor = processor
        self.device = device
        self.model_id = model_id
        self.dtype = next(model.parameters()).dtype
        self.dim = int(model.config.projection_dim)
        self.max_text_tokens = int(model.config.text_config.max_position_embeddings)
        # One forward pass at a time per model: torch already uses every core for one batch,
        # and interleaving batches only thrashes caches.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, model_id: str, device: str = "auto", precision: str = "auto") -> ClipEmbedder:
        from transformers import CLIPModel, CLIPProcessor

        torch_device = select_device(device)
        dtype = preferred_dtype(torch_device, precision)
        local = Path(model_id).expanduser()
        source = str(local) if local.is_dir() else model_id
        if not local.is_dir() and (model_id.startswith((".", "/", "~")) or local.exists()):
            raise ModelLoadError(f"model directory {model_id!r} does not exist. {LOCAL_MODEL_HINT}")
        try:
            model = CLIPModel.from_pretrained(source, dtype=dtype)
            processor = CLIPProcessor.from_pretrained(source)
        except Exception as exc:
            raise ModelLoadError(
                f"could not load CLIP model {model_id!r} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}). {LOCAL_MODEL_HINT}"
            ) from exc
        model.eval().to(torch_device)
        log.info("loaded %s on %s (%s)", model_id, torch_device, dtype)
        return cls(model, processor, torch_device, model_id)

    def embed_images(self, images: Sequence[npt.NDArray[np.uint8]]) -> Vectors:
        """Embed RGB uint8 arrays of shape (H, W, 3)."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        pixels = self._processor.image_processor(images=list(images), return_tensors="pt")
        tensor = pixels["pixel_values"].to(self.device, self.dtype)
        with self._lock, torch.inference_mode():
            features = _pooled(self._model.get_image_features(pixel_values=tensor))
        return normalise(features.float().cpu().numpy())

    def embed_image_bytes(self, data: bytes) -> Vectors:
        return self.embed_images([decode_image(data)])

    def embed_texts(self, texts: Sequence[str]) -> TextEmbedding:
        """Embed texts; those longer than CLIP's context are truncated and flagged."""
        if not texts:
            return TextEmbedding(np.zeros((0, self.dim), dtype=np.float32), ())
        tokenizer = self._processor.tokenizer
        lengths = [len(ids) for ids in tokenizer(list(texts))["input_ids"]]
        tokens = tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_text_tokens,
            return_tensors="pt",
        ).to(self.device)
        with self._lock, torch.inference_mode():
            features = _pooled(
                self._model.get_text_features(
                    input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
                )
            )
        truncated = tuple(n > self.max_text_tokens for n in lengths)
        return TextEmbedding(normalise(features.float().cpu().numpy()), truncated)


def decode_image(data: bytes) -> npt.NDArray[np.uint8]:
    """Decode image bytes to RGB, or raise InvalidArgument saying what is wrong."""
    import io

    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InvalidArgument("the image is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidArgument(
            f"the image could not be decoded ({exc}); send JPEG, PNG, WebP, BMP or GIF bytes"
        ) from exc
