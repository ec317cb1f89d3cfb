"""The contract every model family meets, and the shared torch code behind it.

A family adapter is a small subclass of `DualEncoder` that names its transformers classes and
says how its text is padded, how wide its vectors are and how its scores are calibrated. All
vectors are L2-normalised float32, so inner product equals cosine for every family.

Why one threshold means different things per model
--------------------------------------------------
A cosine is only comparable within one model, and a calibrated score only within one family.

- CLIP (and AltCLIP, Chinese CLIP) was trained with a softmax over each batch: only the
  *ranking* of cosines for one query mattered to the loss, and nothing pins their level.
  Image-text cosines of a real CLIP ViT-B/32 cluster in a narrow band, roughly 0.2 to 0.35
  from unrelated to well matched, so "0.25" sits inside that band, and the band moves from
  model to model (image-image cosines sit far higher, often above 0.8). The softmax
  temperature changes no ranking and gives no probability on its own, so CLIP's calibrated
  score is the cosine itself.
- SigLIP and SigLIP2 were trained with a sigmoid loss on every image-text pair separately,
  with a learnt scale and bias: `sigmoid(exp(logit_scale) * cos + logit_bias)` is the model's
  own probability that the pair matches. The scale is large (the paper starts it at 10 and
  training raises it to the order of 100) and the bias strongly negative (about -10), so the
  probability is near 0 for almost every pair and jumps to near 1 over a small range of
  cosines. A cosine threshold of 0.25 may cut anywhere on that step.

So 0.25 is a middling CLIP cosine, a SigLIP cosine whose meaning depends on that model's scale
and bias, and a SigLIP probability of one in four. Every adapter has `calibrate(cosine)`, and a
threshold must say which of the two numbers it applies to and be chosen per model. Rankings
are the same either way: calibrate() is monotonic.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt
import torch

from scenesearch.server.device import preferred_dtype, select_device
from scenesearch.server.domain import Vectors
from scenesearch.server.errors import InvalidArgument, ModelLoadError
from scenesearch.server.models.runtime import Engine, Inputs, TorchEngine
from scenesearch.server.vector_maths import normalise

log = logging.getLogger(__name__)

LOCAL_MODEL_HINT = (
    "Point the server at a local copy instead: pass --model /path/to/model-dir or set "
    "SCENESEARCH_MODEL=/path/to/model-dir, where the directory holds config.json, the weights "
    "(model.safetensors), the processor config and the tokenizer files, as written by "
    "`model.save_pretrained()` and `processor.save_pretrained()` on a machine that can reach "
    "the hub (or copy them from ~/.cache/huggingface there)."
)
# Tokenizers that report no real limit use a huge sentinel for model_max_length.
_NO_LIMIT = 1_000_000

E = TypeVar("E", bound="DualEncoder")


@dataclass(frozen=True, slots=True)
class TextEmbedding:
    vectors: Vectors
    truncated: tuple[bool, ...]


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else "no detail"


def checkpoint_source(model_id: str) -> str:
    """The local directory for `model_id`, or the hub id itself; a missing path is an error."""
    local = Path(model_id).expanduser()
    if local.is_dir():
        return str(local)
    if model_id.startswith((".", "/", "~")) or local.exists():
        raise ModelLoadError(f"model directory {model_id!r} does not exist. {LOCAL_MODEL_HINT}")
    return model_id


def read_model_type(model_id: str) -> str:
    """The `model_type` in the checkpoint's config.json (a local directory or a hub id)."""
    source = checkpoint_source(model_id)
    try:
        if Path(source).is_dir():
            config = json.loads((Path(source) / "config.json").read_text())
        else:
            from transformers import PretrainedConfig

            config, _ = PretrainedConfig.get_config_dict(source)
    except Exception as exc:
        raise ModelLoadError(
            f"could not read the config of model {model_id!r} ({type(exc).__name__}: "
            f"{_first_line(exc)}). {LOCAL_MODEL_HINT}"
        ) from exc
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if not isinstance(model_type, str) or not model_type:
        raise ModelLoadError(
            f"the config.json of model {model_id!r} names no model_type, so its family is "
            f"unknown. {LOCAL_MODEL_HINT}"
        )
    return model_type


class DualEncoder:
    """Image and text encoders of one image-text model on one device.

    Subclasses (one per family) set the class attributes and override the small hooks below;
    the embedding code itself is shared.
    """

    family: ClassVar[str] = ""  # the registry name, equal to config.json's model_type
    model_class: ClassVar[str] = ""  # transformers class names, imported at load time
    processor_class: ClassVar[str] = ""
    # How texts are padded: True pads to the longest in the batch; "max_length" pads every
    # text to the context length, as SigLIP was trained.
    text_padding: ClassVar[bool | str] = True
    # SigLIP was trained without a text attention mask; CLIP-like models use one.
    text_attention_mask: ClassVar[bool] = True
    # What calibrate() returns: "cosine" (unchanged) or "sigmoid" (a match probability).
    calibration: ClassVar[str] = "cosine"
    # Why this family's towers cannot run outside torch (runtime_export), or "" if they can.
    export_blocker: ClassVar[str] = ""

    def __init__(self, model: Any, processor: Any, device: torch.device, model_id: str) -> None:
        self._model: Any = model  # None once another runtime's engine has replaced torch's
        self._processor = processor
        self.device = device
        self.model_id = model_id
        self.dtype = next(model.parameters()).dtype
        self.dim = self.embedding_dim(model.config)
        self.max_text_tokens = self._text_limit(model.config, processor.tokenizer)
        self.engine: Engine = TorchEngine(model, device)
        self.runtime_note = ""  # how the runtime was chosen, for GetStats
        # One forward pass at a time per model: torch already uses every core for one batch,
        # and interleaving batches only thrashes caches.
        self._lock = threading.Lock()

    def use_engine(self, engine: Engine, note: str = "") -> None:
        """Run the towers on `engine` from now on; the torch model is released."""
        self.engine, self.runtime_note = engine, note
        if not isinstance(engine, TorchEngine):
            self._model = None

    def describe(self) -> str:
        """Device, then dtype (torch) or runtime, as GetStats shows them: "cpu (float32)",
        "cpu (onnx int8; auto, 2.1x torch float32)"."""
        if isinstance(self.engine, TorchEngine):
            what = str(self.engine.dtype).removeprefix("torch.")
        else:
            what = self.engine.label
        return f"{self.device} ({what}{'; ' + self.runtime_note if self.runtime_note else ''})"

    # ---- family hooks -------------------------------------------------------------------
    @classmethod
    def embedding_dim(cls, config: Any) -> int:
        return int(config.projection_dim)

    @classmethod
    def text_positions(cls, config: Any) -> int:
        """How many text tokens the model's position table holds."""
        return int(config.text_config.max_position_embeddings)

    def calibrate(self, cosine: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """The family's calibrated score for cosine similarities (same shape, float32).

        Here the cosine itself: CLIP-like models learnt only a temperature, which changes no
        ranking and gives no probability. See the module docstring for why thresholds differ.
        """
        return np.asarray(cosine, dtype=np.float32)

    # ---- loading ------------------------------------------------------------------------
    @classmethod
    def load(cls: type[E], model_id: str, device: str = "auto", precision: str = "auto") -> E:
        """Load a checkpoint of this family (hub id or local directory)."""
        model_type = read_model_type(model_id)
        if model_type != cls.family:
            raise ModelLoadError(
                f"model {model_id!r} is a {model_type!r} checkpoint, not {cls.family!r}; "
                "load it with scenesearch.server.models.load_embedder(), which picks the family"
            )
        return cls.load_checkpoint(model_id, device, precision)

    @classmethod
    def load_checkpoint(
        cls: type[E], model_id: str, device: str = "auto", precision: str = "auto"
    ) -> E:
        """Load with this family's classes, without checking the config's model_type."""
        import transformers

        torch_device = select_device(device)
        dtype = preferred_dtype(torch_device, precision)
        source = checkpoint_source(model_id)
        try:
            model = getattr(transformers, cls.model_class).from_pretrained(source, dtype=dtype)
            processor = getattr(transformers, cls.processor_class).from_pretrained(source)
        except Exception as exc:
            raise ModelLoadError(
                f"could not load {cls.family} model {model_id!r} ({type(exc).__name__}: "
                f"{_first_line(exc)}).{_missing_package_hint(exc)} {LOCAL_MODEL_HINT}"
            ) from exc
        model.eval().to(torch_device)
        log.info("loaded %s (%s) on %s (%s)", model_id, cls.family, torch_device, dtype)
        return cls(model, processor, torch_device, model_id)

    @classmethod
    def _text_limit(cls, config: Any, tokenizer: Any) -> int:
        limit = cls.text_positions(config)
        declared = getattr(tokenizer, "model_max_length", None)
        if isinstance(declared, int) and 0 < declared < _NO_LIMIT:
            limit = min(limit, declared)
        return limit

    # ---- embedding ----------------------------------------------------------------------
    def embed_images(self, images: Sequence[npt.NDArray[np.uint8]]) -> Vectors:
        """Embed RGB uint8 arrays of shape (H, W, 3)."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        inputs = self._processor.image_processor(images=list(images), return_tensors="pt")
        with self._lock:
            features = self.engine.image_features(dict(inputs))
        return normalise(features)

    def embed_image_bytes(self, data: bytes) -> Vectors:
        return self.embed_images([decode_image(data)])

    def embed_texts(self, texts: Sequence[str]) -> TextEmbedding:
        """Embed texts; those longer than the model's context are truncated and flagged."""
        if not texts:
            return TextEmbedding(np.zeros((0, self.dim), dtype=np.float32), ())
        inputs, truncated = self.text_inputs(texts)
        with self._lock:
            features = self.engine.text_features(inputs)
        return TextEmbedding(normalise(features), truncated)

    def text_inputs(self, texts: Sequence[str]) -> tuple[Inputs, tuple[bool, ...]]:
        """The text tower's inputs for `texts`, and which of them were truncated."""
        tokens = self._processor.tokenizer(
            list(texts),
            padding=self.text_padding,
            truncation=True,
            max_length=self.max_text_tokens,
            return_tensors="pt",
            return_attention_mask=True,
        )
        inputs = {"input_ids": tokens["input_ids"]}
        if self.text_attention_mask:
            inputs["attention_mask"] = tokens["attention_mask"]
        return inputs, self._truncated(texts, tokens["attention_mask"])

    def _truncated(self, texts: Sequence[str], mask: torch.Tensor) -> tuple[bool, ...]:
        """Which texts lost tokens to truncation. Only a text that fills the whole context can
        have, so only those are tokenized again, untruncated: a batch of ordinary queries costs
        one tokenizer call, not two."""
        full = (mask.sum(dim=1) >= self.max_text_tokens).tolist()
        if not any(full):
            return (False,) * len(texts)
        suspects = [text for text, at_limit in zip(texts, full, strict=True) if at_limit]
        tokenizer = self._processor.tokenizer
        lengths = iter([len(ids) for ids in tokenizer(suspects, verbose=False)["input_ids"]])
        return tuple(bool(at_limit) and next(lengths) > self.max_text_tokens for at_limit in full)


def _missing_package_hint(exc: BaseException) -> str:
    text = str(exc)
    for package in ("sentencepiece", "protobuf"):
        if package.lower() in text.lower():
            return f" This model's tokenizer needs {package}: pip install {package}."
    return ""


def decode_image(data: bytes) -> npt.NDArray[np.uint8]:
    """Decode image bytes to RGB, or raise InvalidArgument saying what is wrong."""
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
