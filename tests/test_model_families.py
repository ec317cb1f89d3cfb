"""Every supported model family, each from a tiny random checkpoint written to disk and loaded
through the production path (config.json's model_type → adapter → from_pretrained)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from scenesearch.client.remote import SceneSearchClient, ingest_options
from scenesearch.server.app import start_server
from scenesearch.server.domain import IngestParams
from scenesearch.server.embedder import ClipEmbedder
from scenesearch.server.errors import ModelLoadError
from scenesearch.server.ingest.pipeline.orchestrator import default_stages, ingest_file
from scenesearch.server.models import FAMILIES, DualEncoder, load_embedder
from scenesearch.server.models.siglip import SiglipEmbedder, sigmoid_score
from tests.conftest import make_settings
from tests.helpers import frame_png
from tests.support.random_model import RANDOM_FAMILIES, write_random_model
from tests.support.synthetic import WrittenVideo, write_video

PARAMS = IngestParams(sample_interval_s=1.0, detector="content", threshold=0.0, batch_size=8)
SIGMOID_FAMILIES = {"siglip", "siglip2"}
HAS_SENTENCEPIECE = importlib.util.find_spec("sentencepiece") is not None


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    return {family: write_random_model(root / family, family) for family in RANDOM_FAMILIES}


@pytest.fixture(scope="module", params=sorted(RANDOM_FAMILIES))
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def encoder(checkpoints: dict[str, Path], family: str) -> DualEncoder:
    return load_embedder(str(checkpoints[family]), "cpu", "fp32")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> WrittenVideo:
    return write_video(tmp_path_factory.mktemp("media") / "three.mp4", [1.5, 1.5, 1.5], seed=3)


def test_every_registered_family_has_a_tiny_checkpoint() -> None:
    assert set(FAMILIES) == set(RANDOM_FAMILIES)
    assert all(adapter.family == name for name, adapter in FAMILIES.items())


def test_family_loads_and_embeds_images(
    checkpoints: dict[str, Path], family: str, encoder: DualEncoder
) -> None:
    assert type(encoder) is FAMILIES[family] and encoder.family == family
    assert encoder.dtype == torch.float32 and encoder.device == torch.device("cpu")
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(3)]
    images.append(np.full((17, 31, 3), 200, dtype=np.uint8))  # tiny and odd-sized
    vectors = encoder.embed_images(images)
    assert vectors.shape == (4, encoder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.embed_images([]).shape == (0, encoder.dim)
    # Deterministic: one image alone, or reloaded from disk, gives the same vector.
    np.testing.assert_allclose(encoder.embed_images(images[:1])[0], vectors[0], atol=1e-5)
    again = load_embedder(str(checkpoints[family]), "cpu", "fp32")
    np.testing.assert_allclose(again.embed_images(images), vectors, atol=1e-5)


def test_family_embeds_texts_independently_of_the_batch(encoder: DualEncoder) -> None:
    texts = ["a photo of a cat", "一张猫的照片", "a dog in a video scene, running fast"]
    batch = encoder.embed_texts(texts)
    assert batch.vectors.shape == (3, encoder.dim) and batch.vectors.dtype == np.float32
    assert batch.truncated == (False, False, False)
    np.testing.assert_allclose(np.linalg.norm(batch.vectors, axis=1), 1.0, atol=1e-5)
    # Padding must not leak into a text's vector: alone or beside longer texts, it is the same.
    for i, text in enumerate(texts):
        np.testing.assert_allclose(
            encoder.embed_texts([text]).vectors[0], batch.vectors[i], atol=1e-5
        )
    assert encoder.embed_texts([]).vectors.shape == (0, encoder.dim)


def test_texts_longer_than_the_context_are_truncated_and_flagged(encoder: DualEncoder) -> None:
    tokenizer = encoder._processor.tokenizer
    limit = encoder.max_text_tokens

    def count(text: str) -> int:
        return len(tokenizer(text, verbose=False)["input_ids"])

    # Grow a text one short word at a time until it holds exactly `limit` tokens, then add
    # one more token: the edge, not just a text far past it.
    words = 1
    while count(" ".join(["a"] * words)) < limit:
        words += 1
    at_limit = " ".join(["a"] * words)
    assert count(at_limit) == limit, "one word must add exactly one token"
    over = at_limit + " a"
    result = encoder.embed_texts([at_limit, over, "word " * 300])
    assert result.truncated == (False, True, True)
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)


def test_family_context_lengths(encoder: DualEncoder, family: str) -> None:
    expected = {"clip": 77, "siglip": 64, "siglip2": 64, "altclip": 77, "chinese_clip": 52}
    assert encoder.max_text_tokens == expected[family]


def _reference_logits(
    encoder: DualEncoder, images: list[np.ndarray], texts: list[str]
) -> np.ndarray:
    """logits_per_image from the model's own forward pass (transformers' reference code)."""
    pixels = dict(encoder._processor.image_processor(images=images, return_tensors="pt"))
    tokens = encoder._processor.tokenizer(
        texts,
        padding=encoder.text_padding,
        truncation=True,
        max_length=encoder.max_text_tokens,
        return_tensors="pt",
    )
    text_inputs = {"input_ids": tokens["input_ids"]}
    if encoder.text_attention_mask:
        text_inputs["attention_mask"] = tokens["attention_mask"]
    with torch.inference_mode():
        output = encoder._model(**pixels, **text_inputs)
    return output.logits_per_image.float().numpy()


def test_calibrate_matches_the_models_own_scoring(encoder: DualEncoder, family: str) -> None:
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(3)]
    texts = ["a photo of a cat", "the dog", "一张猫的照片"]
    cosine = encoder.embed_images(images) @ encoder.embed_texts(texts).vectors.T
    logits = _reference_logits(encoder, images, texts)
    model = encoder._model
    scale = float(model.logit_scale.detach().exp())
    calibrated = encoder.calibrate(cosine)
    assert calibrated.shape == cosine.shape and calibrated.dtype == np.float32
    if family in SIGMOID_FAMILIES:
        assert encoder.calibration == "sigmoid" and isinstance(encoder, SiglipEmbedder)
        # The tiny checkpoints carry the paper's initial scale and bias, not a trivial 1 and 0.
        assert (encoder.logit_scale, encoder.logit_bias) == pytest.approx((10.0, -10.0))
        bias = float(model.logit_bias.detach())
        # Differential: our cosine through calibrate() equals sigmoid of the model's logits...
        np.testing.assert_allclose(calibrated, 1 / (1 + np.exp(-logits)), atol=1e-5)
        # ...which is the documented formula over the model's parameters.
        np.testing.assert_allclose(
            calibrated, 1 / (1 + np.exp(-(scale * cosine + bias))), atol=1e-5
        )
    else:
        assert encoder.calibration == "cosine"
        np.testing.assert_array_equal(calibrated, cosine.astype(np.float32))
        # Our cosine is the model's logit without its temperature.
        np.testing.assert_allclose(cosine, logits / scale, atol=1e-5)


def test_sigmoid_score_is_monotonic_bounded_and_never_overflows() -> None:
    cos = np.array([-1.0, -0.5, 0.0, 0.05, 0.1, 0.5, 1.0], dtype=np.float32)
    for scale, bias in ((112.0, -16.5), (1e4, -5e3), (10.0, 0.0)):
        with np.errstate(all="raise"):
            score = sigmoid_score(cos, scale, bias)
        assert score.dtype == np.float32
        assert np.all((score >= 0) & (score <= 1)) and np.all(np.diff(score) >= 0)
    # A SigLIP-like scale and bias: cos 0.05 is improbable, cos 0.25 a near-certain match.
    assert sigmoid_score(np.array([0.05, 0.25]), 112.0, -16.5).round(3).tolist() == [0.0, 1.0]
    assert sigmoid_score(np.array([16.5 / 112.0]), 112.0, -16.5)[0] == pytest.approx(0.5)


def test_unsupported_model_type_lists_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelLoadError) as info:
        load_embedder(str(tmp_path))
    message = str(info.value)
    assert "'bert'" in message
    assert all(name in message for name in ("altclip", "chinese_clip", "clip", "siglip2"))


def test_config_without_model_type_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="no model_type"):
        load_embedder(str(tmp_path))


def test_an_adapter_refuses_another_familys_checkpoint(checkpoints: dict[str, Path]) -> None:
    with pytest.raises(ModelLoadError, match="'siglip' checkpoint, not 'clip'"):
        ClipEmbedder.load(str(checkpoints["siglip"]), "cpu", "fp32")


def test_missing_weights_of_a_known_family_explain_the_fix(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "config.json").write_text((checkpoints["siglip2"] / "config.json").read_text())
    with pytest.raises(ModelLoadError, match=r"could not load siglip2 model.*--model /path/to"):
        load_embedder(str(tmp_path))


@pytest.fixture(scope="module")
def spm_siglip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SigLIP with the tokenizer files google/siglip-* ship: spiece.model + SiglipTokenizer."""
    return write_random_model(
        tmp_path_factory.mktemp("spm") / "siglip", "siglip", sentencepiece=True
    )


@pytest.mark.skipif(not HAS_SENTENCEPIECE, reason="sentencepiece is not installed")
def test_siglip_with_a_sentencepiece_tokenizer(spm_siglip: Path) -> None:
    encoder = load_embedder(str(spm_siglip), "cpu", "fp32")
    assert type(encoder._processor.tokenizer).__name__ == "SiglipTokenizer"
    result = encoder.embed_texts(["A photo of a cat.", "word " * 100])
    assert result.truncated == (False, True)
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.skipif(HAS_SENTENCEPIECE, reason="sentencepiece is installed")
def test_siglip_sentencepiece_tokenizer_without_the_package_says_what_to_install(
    spm_siglip: Path,
) -> None:
    with pytest.raises(ModelLoadError, match="pip install sentencepiece"):
        load_embedder(str(spm_siglip), "cpu", "fp32")


def test_pipeline_ingest_then_image_and_text_queries(
    encoder: DualEncoder, video: WrittenVideo
) -> None:
    """The real ingest pipeline with each family's image encoder; queries answered by cosine
    over the scene vectors, as the index does."""
    result = ingest_file(video.path, PARAMS, default_stages(PARAMS, encoder.embed_images))
    assert len(result.scenes) == 3
    assert result.scene_vectors.shape == (3, encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(result.scene_vectors, axis=1), 1.0, atol=1e-5)
    for scene, start in enumerate(video.scene_starts_s):
        query = encoder.embed_image_bytes(frame_png(video, start + 0.7))[0]
        assert int(np.argmax(result.scene_vectors @ query)) == scene
    texts = encoder.embed_texts(["a white square over coloured blocks", "word " * 300])
    assert texts.truncated == (False, True)
    scores = encoder.calibrate(result.scene_vectors @ texts.vectors.T)
    assert scores.shape == (3, 2) and np.all(np.isfinite(scores))


@pytest.fixture(scope="module")
def family_client(
    tmp_path_factory: pytest.TempPathFactory,
    checkpoints: dict[str, Path],
    family: str,
    video: WrittenVideo,
) -> Iterator[SceneSearchClient]:
    settings = make_settings(
        tmp_path_factory.mktemp(f"data-{family}"), checkpoints[family], video.path.parent
    )
    running = start_server(settings)
    try:
        with SceneSearchClient(f"127.0.0.1:{running.port}", timeout_s=120.0) as client:
            yield client
    finally:
        running.stop(1.0)


@pytest.mark.slow
def test_grpc_server_ingests_and_answers_queries(
    family_client: SceneSearchClient, encoder: DualEncoder, video: WrittenVideo
) -> None:
    stats = family_client.stats()
    assert stats.dimension == encoder.dim
    options = ingest_options(sample_interval_s=PARAMS.sample_interval_s, detector=PARAMS.detector)
    video_id = family_client.ingest_path(str(video.path), options).video_id
    assert [round(s.start_s, 1) for s in family_client.get_video(video_id).scenes] == [0, 1.5, 3]
    for scene, start in enumerate(video.scene_starts_s):
        hits = family_client.search_image(frame_png(video, start + 0.7), top_k=3).hits
        assert (hits[0].video_id, hits[0].scene_index) == (video_id, scene)
    results = family_client.search_text("a white square over coloured blocks", top_k=3)
    assert len(results.hits) == 3 and not results.query_truncated
    assert [h.score for h in results.hits] == sorted((h.score for h in results.hits), reverse=True)
    assert family_client.search_text("word " * 300, top_k=3).query_truncated
    # Differential: the server's scores are the cosines this process computes from the same
    # checkpoint over the same pipeline's scene vectors.
    local = ingest_file(video.path, PARAMS, default_stages(PARAMS, encoder.embed_images))
    query = encoder.embed_texts(["a white square over coloured blocks"]).vectors[0]
    expected = local.scene_vectors @ query
    for hit in results.hits:
        assert hit.score == pytest.approx(float(expected[hit.scene_index]), abs=1e-4)
