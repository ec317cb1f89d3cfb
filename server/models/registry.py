"""The model families scenesearch can load, registered by name (config.json's model_type),
and the inference runtimes that can run them, registered by their --runtime name.

Adding a family is one adapter module and one entry in ADAPTERS; adding a runtime is one
module and one entry in RUNTIMES; nothing else branches on either.
"""

from __future__ import annotations

from pathlib import Path

from scenesearch.contract import require_registered
from scenesearch.server.config import RUNTIMES as RUNTIME_NAMES
from scenesearch.server.errors import ModelLoadError
from scenesearch.server.models.altclip import AltClipEmbedder
from scenesearch.server.models.base import DualEncoder, read_model_type
from scenesearch.server.models.chinese_clip import ChineseClipEmbedder
from scenesearch.server.models.clip import ClipEmbedder
from scenesearch.server.models.runtime_onnx import OnnxRuntime
from scenesearch.server.models.runtime_openvino import OpenVinoRuntime
from scenesearch.server.models.runtime_select import AUTO, TORCH, Runtime, load_with_runtime
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

# The optional runtimes; "torch" (always there) and "auto" (choose) are not entries.
RUNTIMES: dict[str, Runtime] = {rt.name: rt for rt in (OnnxRuntime(), OpenVinoRuntime())}
require_registered("runtime", RUNTIME_NAMES, (AUTO, TORCH, *RUNTIMES))


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


def load_embedder(
    model_id: str,
    device: str = "auto",
    precision: str = "auto",
    runtime: str = TORCH,
    cache_dir: Path | None = None,
) -> DualEncoder:
    """Load any supported checkpoint (hub id or local directory), picking its family from
    config.json's model_type, and run it on `runtime` (torch, onnx, openvino or auto; see
    runtime_select). Exported towers and auto's measurement are cached in `cache_dir`."""
    adapter = adapter_for(read_model_type(model_id), model_id)
    return load_with_runtime(adapter, model_id, device, precision, runtime, cache_dir, RUNTIMES)
