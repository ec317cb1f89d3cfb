"""The CLIP adapter, loaded from disk through the production from_pretrained path."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scenesearch.server.device import cpu_has_amx_bf16, preferred_dtype, select_device
from scenesearch.server.embedder import ClipEmbedder, decode_image
from scenesearch.server.errors import InvalidArgument, ModelLoadError


def test_loads_local_checkpoint_and_embeds(embedder: ClipEmbedder) -> None:
    assert embedder.dim == 64
    images = [np.full((240, 320, 3), c, dtype=np.uint8) for c in (0, 128, 255)]
    vectors = embedder.embed_images(images)
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Deterministic: the same image twice gives the same vector.
    np.testing.assert_allclose(embedder.embed_images(images[:1])[0], vectors[0], atol=1e-5)


def test_text_embedding_flags_truncation(embedder: ClipEmbedder) -> None:
    result = embedder.embed_texts(["a photo of a cat", "word " * 200])
    assert result.vectors.shape == (2, 64)
    assert result.truncated == (False, True)
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)


def test_missing_local_directory_explains_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="SCENESEARCH_MODEL"):
        ClipEmbedder.load(str(tmp_path / "nope"))


def test_unreachable_hub_model_explains_how_to_point_at_local_copy() -> None:
    # conftest sets HF_HUB_OFFLINE=1, exactly what a machine without the hub experiences.
    with pytest.raises(ModelLoadError) as info:
        ClipEmbedder.load("openai/clip-vit-base-patch32")
    assert "--model /path/to/model-dir" in str(info.value)
    assert "openai/clip-vit-base-patch32" in str(info.value)


def test_directory_without_weights_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError):
        ClipEmbedder.load(str(tmp_path))


def test_decode_image_accepts_png_and_rejects_garbage() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (31, 17), (10, 20, 30)).save(buf, format="PNG")
    assert decode_image(buf.getvalue()).shape == (17, 31, 3)
    with pytest.raises(InvalidArgument, match="could not be decoded"):
        decode_image(b"\x89PNG not really")
    with pytest.raises(InvalidArgument, match="empty"):
        decode_image(b"")


def test_device_selection_on_this_machine() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type in {expected, "mps", "hpu"}
    assert select_device("cpu") == torch.device("cpu")
    fast_bf16 = cpu_has_amx_bf16()
    assert preferred_dtype(torch.device("cpu")) == (torch.bfloat16 if fast_bf16 else torch.float32)
    assert preferred_dtype(torch.device("cpu"), "fp32") == torch.float32
    assert preferred_dtype(torch.device("cuda")) == torch.float16
    assert preferred_dtype(torch.device("hpu")) == torch.bfloat16
    with pytest.raises(ValueError, match="unknown precision"):
        preferred_dtype(torch.device("cpu"), "fp8")
    with pytest.raises(ValueError, match="unknown device"):
        select_device("tpu-9000")


def test_bf16_embeddings_agree_with_fp32(tiny_model: Path, embedder: ClipEmbedder) -> None:
    half = ClipEmbedder.load(str(tiny_model), "cpu", "bf16")
    assert half.dtype == torch.bfloat16
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(4)]
    agreement = np.sum(half.embed_images(images) * embedder.embed_images(images), axis=1)
    assert np.all(agreement > 0.99)
