"""Inference runtimes (torch, ONNX Runtime, OpenVINO) and `--runtime auto`, on tiny checkpoints
of every exportable family, loaded through the production path."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from scenesearch.client.remote import SceneSearchClient
from scenesearch.server import config
from scenesearch.server.app import start_server
from scenesearch.server.errors import ModelLoadError
from scenesearch.server.models import FAMILIES, DualEncoder, load_embedder, runtime_select
from scenesearch.server.models import runtime_export as export
from scenesearch.server.models.registry import RUNTIMES, adapter_for
from scenesearch.server.models.runtime import Features, Inputs, TorchEngine, Variant
from scenesearch.server.models.runtime_select import (
    AUTO,
    Policy,
    _blocker,
    load_with_runtime,
    min_cosine,
)
from tests.conftest import make_settings
from tests.helpers import frame_png, ingest
from tests.support.random_model import write_random_model
from tests.support.synthetic import WrittenVideo, write_video

EXPORTABLE = sorted(name for name, adapter in FAMILIES.items() if not adapter.export_blocker)
INSTALLED = [name for name, rt in RUNTIMES.items() if rt.missing() is None]
# Tiny models keep torch under the default policy; tests that measure lower the bar.
MEASURE = Policy(skip_below_params=0, rounds=1, batch=4)
TEXTS = ["a photo of a cat", "一张猫的照片", "a dog in a video scene, running fast", "x"]


def _images(seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(3)]
    images.append(rng.integers(0, 256, (500, 180, 3), dtype=np.uint8))  # portrait
    images.append(np.full((17, 31, 3), 200, dtype=np.uint8))  # tiny and odd-sized
    return images


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    return {family: write_random_model(root / family, family) for family in FAMILIES}


@pytest.fixture(scope="module")
def references(checkpoints: dict[str, Path]) -> dict[str, DualEncoder]:
    return {f: load_embedder(str(checkpoints[f]), "cpu", "fp32") for f in EXPORTABLE}


def _agreement(encoder: DualEncoder, reference: DualEncoder) -> None:
    images = _images()
    vectors, expected = encoder.embed_images(images), reference.embed_images(images)
    assert vectors.shape == expected.shape and vectors.dtype == np.float32
    assert min_cosine(vectors, expected) >= 0.99
    # Batch size and composition change nothing beyond int8's per-batch activation scale.
    assert min_cosine(encoder.embed_images(images[3:4]), expected[3:4]) >= 0.99
    long_text = "scene " * 150
    texts = encoder.embed_texts([*TEXTS, long_text])
    reference_texts = reference.embed_texts([*TEXTS, long_text])
    assert texts.truncated == reference_texts.truncated == (False,) * len(TEXTS) + (True,)
    assert min_cosine(texts.vectors, reference_texts.vectors) >= 0.99
    for text, vector in zip(TEXTS, reference_texts.vectors, strict=False):
        assert min_cosine(encoder.embed_texts([text]).vectors, vector[None]) >= 0.99
    assert encoder.embed_images([]).shape == (0, encoder.dim)


@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
@pytest.mark.parametrize("family", EXPORTABLE)
def test_runtime_agrees_with_torch_fp32(
    runtime: str,
    family: str,
    checkpoints: dict[str, Path],
    references: dict[str, DualEncoder],
    tmp_path: Path,
) -> None:
    # Both runtimes come with the dev extra: a missing one is a broken install, not a skip.
    assert not RUNTIMES[runtime].missing(), RUNTIMES[runtime].missing()
    encoder = load_embedder(str(checkpoints[family]), "cpu", "auto", runtime, tmp_path)
    assert not isinstance(encoder.engine, TorchEngine)
    assert encoder.engine.label.startswith(runtime)
    assert encoder.describe().startswith(f"cpu ({runtime}")
    assert encoder._model is None  # torch's copy is released
    _agreement(encoder, references[family])
    # Calibrated scores come from the adapter, whatever runs the towers.
    np.testing.assert_allclose(
        encoder.calibrate([0.1, 0.3]), references[family].calibrate([0.1, 0.3]), atol=1e-6
    )


@pytest.mark.parametrize("runtime", INSTALLED)
def test_second_load_reuses_the_exported_towers(
    runtime: str, checkpoints: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_embedder(str(checkpoints["clip"]), "cpu", "auto", runtime, tmp_path)
    (directory,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    stamps = {p.name: p.stat().st_mtime_ns for p in directory.glob("*.onnx")}
    assert {"image.onnx", "text.onnx"} <= set(stamps)

    def no_export(*args: Any) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(export, "export_tower", no_export)
    second = load_embedder(str(checkpoints["clip"]), "cpu", "auto", runtime, tmp_path)
    assert second.engine.label == first.engine.label
    assert {p.name: p.stat().st_mtime_ns for p in directory.glob("*.onnx")} == stamps
    images = _images()
    np.testing.assert_allclose(second.embed_images(images), first.embed_images(images), atol=1e-6)


@pytest.mark.skipif("onnx" not in INSTALLED, reason="onnxruntime is not installed")
@pytest.mark.parametrize("damage", ["garbage", "truncated", "manifest", "choice"])
def test_damaged_cache_is_rebuilt_not_a_crash(
    damage: str,
    checkpoints: dict[str, Path],
    references: dict[str, DualEncoder],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    load_embedder(str(checkpoints["clip"]), "cpu", "fp32", "onnx", tmp_path)
    (directory,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    tower = directory / "image.onnx"
    if damage == "garbage":
        tower.write_bytes(b"not an onnx file")
    elif damage == "truncated":
        tower.write_bytes(tower.read_bytes()[: tower.stat().st_size // 2])
    elif damage == "manifest":
        (directory / "manifest.json").write_text("{not json")
    else:
        for choice in directory.glob("choice-*.json"):
            choice.write_text('{"chosen": "no such runtime"}')
    with caplog.at_level(logging.INFO):
        encoder = load_embedder(str(checkpoints["clip"]), "cpu", "fp32", "onnx", tmp_path)
    _agreement(encoder, references["clip"])
    if damage in ("garbage", "truncated"):
        assert "stale or damaged" in caplog.text
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["files"]["image.onnx"]["size"] == tower.stat().st_size


class _MissingRuntime:
    name = "onnx"

    def missing(self) -> str:
        return "onnxruntime is not installed (pip install onnxruntime onnx)"

    def variants(self, precision: str) -> tuple[Variant, ...]:
        return (Variant("onnx", "onnx fp32"),)

    def build(self, *args: Any) -> Any:
        raise AssertionError("a missing runtime is never built")


class _FakeEngine:
    """Features from a torch copy of the model, skewed or not, memoised so that it is fast."""

    def __init__(self, label: str, model: Any, skew: float) -> None:
        self.label, self._torch, self._skew = label, TorchEngine(model, torch.device("cpu")), skew
        self._seen: dict[tuple[str, int], Features] = {}

    def _memo(self, tower: str, inputs: Inputs, run: Any) -> Features:
        # The chooser passes the same tensors on every round: their identity is the key.
        key = (tower, id(next(iter(inputs.values()))))
        if key not in self._seen:
            out = run(inputs)
            noise = np.random.default_rng(0).normal(0, 1, out.shape).astype(np.float32)
            self._seen[key] = out + self._skew * np.linalg.norm(out) * noise
        return self._seen[key]

    def image_features(self, inputs: Inputs) -> Features:
        return self._memo("image", inputs, self._torch.image_features)

    def text_features(self, inputs: Inputs) -> Features:
        return self._memo("text", inputs, self._torch.text_features)


class _FakeRuntime:
    """An installed runtime whose engine is fast; `skew` makes its vectors disagree."""

    name = "onnx"

    def __init__(self, checkpoint: Path, skew: float) -> None:
        self.checkpoint, self.skew, self.builds = checkpoint, skew, 0

    def missing(self) -> None:
        return None

    def variants(self, precision: str) -> tuple[Variant, ...]:
        return (Variant("onnx", "fake fast"),)

    def build(self, variant: Variant, cache: Any, towers: Any, threads: int) -> _FakeEngine:
        self.builds += 1
        model = load_embedder(str(self.checkpoint), "cpu", "fp32")._model
        return _FakeEngine("fake fast", model, self.skew)


def _load(
    checkpoint: Path, runtime: str, cache: Path | None, runtimes: Any, batch: int = 4
) -> DualEncoder:
    policy = Policy(skip_below_params=0, rounds=1, batch=batch)
    return load_with_runtime(
        adapter_for("clip"), str(checkpoint), "cpu", "fp32", runtime, cache, runtimes, policy
    )


def test_auto_falls_back_to_torch_when_no_runtime_is_installed(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    encoder = _load(checkpoints["clip"], AUTO, tmp_path, {"onnx": _MissingRuntime()})
    assert isinstance(encoder.engine, TorchEngine) and encoder.describe() == "cpu (float32)"
    with pytest.raises(ModelLoadError, match=r"not installed.*pip install.*--runtime torch"):
        _load(checkpoints["clip"], "onnx", tmp_path, {"onnx": _MissingRuntime()})


def test_auto_rejects_a_runtime_that_disagrees(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    skewed = _FakeRuntime(checkpoints["clip"], skew=0.5)
    encoder = _load(checkpoints["clip"], AUTO, tmp_path, {"onnx": skewed})
    assert isinstance(encoder.engine, TorchEngine)
    (choice,) = tmp_path.glob("*/choice-*.json")
    saved = json.loads(choice.read_text())
    assert saved["chosen"] == "torch float32"
    assert any(t["label"] == "fake fast" and "cosine" in t["error"] for t in saved["trials"])
    with pytest.raises(ModelLoadError, match="faithfully"):
        _load(checkpoints["clip"], "onnx", tmp_path / "explicit", {"onnx": skewed})


class _BrokenRuntime(_FakeRuntime):
    def build(self, *args: Any) -> _FakeEngine:
        raise RuntimeError("the exporter gave up")


def test_auto_keeps_torch_when_a_runtime_fails_to_build(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    broken = _BrokenRuntime(checkpoints["clip"], skew=0.0)
    encoder = _load(checkpoints["clip"], AUTO, tmp_path, {"onnx": broken})
    assert isinstance(encoder.engine, TorchEngine)
    with pytest.raises(ModelLoadError, match="the exporter gave up"):
        _load(checkpoints["clip"], "onnx", tmp_path / "explicit", {"onnx": broken})


def test_unwritable_cache_means_torch_for_auto_and_an_error_otherwise(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    fast = _FakeRuntime(checkpoints["clip"], skew=0.0)
    assert isinstance(_load(checkpoints["clip"], AUTO, blocked, {"onnx": fast}).engine, TorchEngine)
    with pytest.raises(ModelLoadError, match="writable cache"):
        _load(checkpoints["clip"], "onnx", blocked, {"onnx": fast})


def test_auto_picks_the_fastest_agreeing_runtime_and_remembers(
    checkpoints: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _FakeRuntime(checkpoints["clip"], skew=0.0)
    encoder = _load(checkpoints["clip"], AUTO, tmp_path, {"onnx": fast}, batch=16)
    assert encoder.engine.label == "fake fast"
    assert encoder.describe().startswith("cpu (fake fast; auto, ")
    assert "x torch float32" in encoder.describe()
    assert fast.builds == 1

    def no_measuring(self: Any) -> None:
        raise AssertionError("measured again")

    monkeypatch.setattr(runtime_select._Chooser, "_measure", no_measuring)
    again = _load(checkpoints["clip"], AUTO, tmp_path, {"onnx": fast}, batch=16)
    assert again.engine.label == "fake fast" and again.describe() == encoder.describe()
    assert fast.builds == 2


def test_small_models_keep_torch_without_exporting(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    encoder = load_embedder(str(checkpoints["clip"]), "cpu", "fp32", AUTO, tmp_path)
    assert isinstance(encoder.engine, TorchEngine) and encoder.describe() == "cpu (float32)"
    assert not list(tmp_path.glob("*/*.onnx"))


def test_siglip2_stays_on_torch(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    siglip2 = str(checkpoints["siglip2"])
    encoder = load_with_runtime(
        adapter_for("siglip2"), siglip2, "cpu", "fp32", AUTO, tmp_path, RUNTIMES, MEASURE
    )
    assert isinstance(encoder.engine, TorchEngine)
    with pytest.raises(ModelLoadError, match="NaFlex"):
        load_embedder(siglip2, "cpu", "fp32", "onnx", tmp_path)


def test_other_runtimes_need_the_cpu_and_a_cache() -> None:
    clip = adapter_for("clip")
    assert "CPU only" in _blocker(clip, torch.device("cuda"), Path("x"), AUTO, RUNTIMES)
    assert "cache" in _blocker(clip, torch.device("cpu"), None, AUTO, RUNTIMES)
    with pytest.raises(ValueError, match="unknown runtime"):
        load_with_runtime(clip, "unused", "cpu", "fp32", "tensorrt", None, RUNTIMES)


def test_runtime_setting_and_flag() -> None:
    assert config.Settings().runtime == AUTO
    with pytest.raises(ValueError, match="unknown runtime"):
        config.Settings(runtime="tensorrt")
    import argparse

    parser = argparse.ArgumentParser()
    config.add_server_arguments(parser)
    args = parser.parse_args(["--runtime", "onnx"])
    assert config.settings_from_args(args).runtime == "onnx"
    with pytest.raises(SystemExit):
        parser.parse_args(["--runtime", "tensorrt"])


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> WrittenVideo:
    media = tmp_path_factory.mktemp("media").resolve()
    return write_video(media / "three.mp4", [1.5, 1.5, 1.5], seed=3)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed"
)
def test_server_and_worker_run_on_the_chosen_runtime(
    tmp_path: Path, tiny_model: Path, video: WrittenVideo
) -> None:
    settings = make_settings(tmp_path / "data", tiny_model, video.path.parent, runtime="onnx")
    running = start_server(settings)
    try:
        with SceneSearchClient(f"127.0.0.1:{running.port}", timeout_s=60.0) as client:
            video_id = ingest(client, video.path)
            assert client.stats().device.startswith("cpu (onnx ")
            hit = client.search_image(frame_png(video, 2.0), top_k=1).hits[0]
            assert (hit.video_id, hit.scene_index) == (video_id, 1)
            assert client.search_text("scene " * 120, top_k=1).query_truncated
    finally:
        running.stop(1.0)
    # Server and worker exported once between them, under the data dir.
    assert len(list((tmp_path / "data" / "runtimes").glob("*/image.onnx"))) == 1
