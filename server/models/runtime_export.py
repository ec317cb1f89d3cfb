"""The exported towers of one checkpoint, cached under the data dir.

`TowerCache.open(root, encoder)` names a directory per checkpoint (model id, family, a
fingerprint of the checkpoint's files, and the torch and transformers that export it). In it:

    manifest.json        every file below with its size and sha256, rewritten atomically
    image.onnx text.onnx the towers, exported once from the fp32 checkpoint with torch.onnx
    *.int8.onnx, ...     what the runtimes derive from them (quantised copies, compile caches)
    choice-*.json        what `--runtime auto` measured on this machine (runtime_select)

A file that is missing, of another size or hash, or that its runtime cannot load is rebuilt;
a rebuild that fails again is an error the caller turns into a fallback or a message. Server
and ingest worker load at the same time, so everything here runs under an exclusive file
lock: the second process finds the first one's work done.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scenesearch.server.models.base import DualEncoder
from scenesearch.server.models.runtime import pooled

log = logging.getLogger(__name__)

IMAGE, TEXT = "image", "text"
OPSET = 17
# Bumped when the export itself changes, so older caches are rebuilt.
EXPORT_VERSION = 1


class ExportError(Exception):
    """The towers could not be exported or derived; the message says why."""


def probe_images(count: int, seed: int = 0) -> list[np.ndarray]:
    """Deterministic RGB frames with structure (gradients, blocks, noise), 240x320."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:240, 0:320].astype(np.float32)
    images = []
    for i in range(count):
        base = np.stack(
            [(x * (i + 1) / 320) % 1, (y * (i + 2) / 240) % 1, ((x + y) / 560 + i / count) % 1],
            axis=-1,
        )
        blocks = rng.random((6, 8, 3)).repeat(40, axis=0).repeat(40, axis=1)
        noise = rng.normal(0, 0.05, base.shape)
        images.append((np.clip(0.5 * base + 0.5 * blocks + noise, 0, 1) * 255).astype(np.uint8))
    return images


PROBE_TEXTS = (
    "a photo of a cat",
    "a dog running on a beach at sunset",
    "video",
    "一张猫的照片",
    "the scene in the office with two people and a whiteboard",
    "fireworks",
    "a crowd",
    "scene " * 120,  # longer than every context: the truncated path
)


def image_inputs(encoder: DualEncoder, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
    return dict(encoder._processor.image_processor(images=images, return_tensors="pt"))


def text_inputs(encoder: DualEncoder, texts: list[str]) -> dict[str, torch.Tensor]:
    return dict(encoder.text_inputs(texts)[0])


class _Tower(torch.nn.Module):
    """One tower as a module with positional inputs, for torch.onnx.export."""

    def __init__(self, model: Any, method: str, names: tuple[str, ...]) -> None:
        super().__init__()
        self.model, self.method, self.names = model, method, names

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        kwargs = dict(zip(self.names, args, strict=True))
        return pooled(getattr(self.model, self.method)(**kwargs)).float()


def export_tower(model: Any, tower: str, example: Mapping[str, torch.Tensor], path: Path) -> None:
    """Trace one tower of the fp32 `model` into an ONNX file, batch (and text length) dynamic."""
    names = tuple(example)
    method = "get_image_features" if tower == IMAGE else "get_text_features"
    axes: dict[str, dict[int, str]] = {name: {0: "batch"} for name in names}
    if tower == TEXT:
        for name in names:
            if example[name].dim() == 2:
                axes[name][1] = "sequence"
    axes["features"] = {0: "batch"}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python branches on shapes
        torch.onnx.export(
            _Tower(model, method, names),
            tuple(example[name] for name in names),
            str(path),
            input_names=list(names),
            output_names=["features"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(model_id: str) -> str:
    """Names, sizes and times of a local checkpoint's files; the id alone for a hub model."""
    local = Path(model_id).expanduser()
    if not local.is_dir():
        return model_id
    parts = [
        f"{p.relative_to(local)}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in sorted(local.rglob("*"))
        if p.is_file()
    ]
    return "\n".join(parts)


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class TowerCache:
    directory: Path
    identity: dict[str, Any]

    @classmethod
    def open(cls, root: Path, encoder: DualEncoder) -> TowerCache:
        identity = {
            "model_id": encoder.model_id,
            "family": encoder.family,
            "fingerprint": hashlib.sha256(_fingerprint(encoder.model_id).encode()).hexdigest(),
            "torch": torch.__version__,
            "transformers": _version("transformers"),
            "export_version": EXPORT_VERSION,
        }
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        directory = Path(root) / f"{encoder.family}-{key}"
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory, identity)

    @contextlib.contextmanager
    def locked(self) -> Iterator[TowerCache]:
        """Exclusive use of this cache (across processes) for the duration."""
        with (self.directory / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # ---- the manifest -------------------------------------------------------------------
    def _manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.directory / "manifest.json").read_text())
        except (OSError, ValueError):
            return {"identity": self.identity, "files": {}}
        if not isinstance(data, dict) or data.get("identity") != self.identity:
            return {"identity": self.identity, "files": {}}
        return data

    def _record(self, name: str) -> None:
        manifest = self._manifest()
        path = self.directory / name
        manifest["files"][name] = {"size": path.stat().st_size, "sha256": _sha256(path)}
        write_atomically(self.directory / "manifest.json", json.dumps(manifest, indent=1).encode())

    def valid(self, name: str) -> bool:
        entry = self._manifest()["files"].get(name)
        path = self.directory / name
        if not isinstance(entry, dict) or not path.is_file():
            return False
        return path.stat().st_size == entry.get("size") and _sha256(path) == entry.get("sha256")

    def forget(self, name: str) -> None:
        """Drop a file its runtime could not load, so the next `file()` rebuilds it."""
        (self.directory / name).unlink(missing_ok=True)
        manifest = self._manifest()
        if manifest["files"].pop(name, None) is not None:
            write_atomically(
                self.directory / "manifest.json", json.dumps(manifest, indent=1).encode()
            )

    def file(self, name: str, build: Callable[[Path], None]) -> Path:
        """`name` in the cache, built by `build(temporary_path)` unless a valid copy is there."""
        path = self.directory / name
        if self.valid(name):
            return path
        if path.exists():
            log.warning("runtime cache: %s is stale or damaged; rebuilding it", path)
        fd, tmp_name = tempfile.mkstemp(prefix=name + ".", suffix=".tmp", dir=self.directory)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            build(tmp)
            os.replace(tmp, path)
        except Exception as exc:
            raise ExportError(f"could not build {name}: {type(exc).__name__}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        self._record(name)
        return path

    # ---- the fp32 towers ----------------------------------------------------------------
    def towers(self, encoder: DualEncoder, model: Any) -> dict[str, Path]:
        """The exported fp32 towers of `model` (the fp32 torch model behind `encoder`)."""
        examples = {
            IMAGE: image_inputs(encoder, probe_images(2)),
            TEXT: text_inputs(encoder, ["a photo", "a dog on a beach at sunset"]),
        }
        return {
            tower: self.file(f"{tower}.onnx", partial(export_tower, model, tower, examples[tower]))
            for tower in (IMAGE, TEXT)
        }

    def read_json(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.directory / name).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_json(self, name: str, data: Mapping[str, Any]) -> None:
        write_atomically(self.directory / name, json.dumps(data, indent=1).encode())


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "none"
