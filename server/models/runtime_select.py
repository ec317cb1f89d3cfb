"""Choosing the runtime: torch, or a faster one whose vectors agree with torch fp32.

- `torch`, a device other than the CPU, or a family whose towers cannot be exported: the
  adapter's own torch load, as before (`auto` says why in the log).
- `onnx`, `openvino`: that runtime's variants (ONNX Runtime: fp32 and int8), each checked
  against torch fp32 on probe images and texts; the fastest that agrees. None agrees, or the
  package is missing: a ModelLoadError that says what to do.
- `auto`: torch at `--precision` and every installed runtime's variants, measured side by side
  on one ingest-sized image batch, alternating, `rounds` times (medians). The fastest that
  agrees (min cosine ≥ 0.99 over every probe vector) wins if it beats torch by `min_speedup`;
  otherwise torch. A model under `skip_below_params` parameters (test checkpoints) runs in
  milliseconds whatever the runtime, and keeps torch without exporting anything.

The decision is saved beside the exported towers, keyed by this machine, the precision and the
request, so later starts, and the second of server and ingest worker, reuse it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import statistics
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from scenesearch.server.device import preferred_dtype, select_device
from scenesearch.server.errors import ModelLoadError
from scenesearch.server.models.base import DualEncoder
from scenesearch.server.models.runtime import Engine, Features, TorchEngine, Variant
from scenesearch.server.models.runtime_export import (
    PROBE_TEXTS,
    TowerCache,
    image_inputs,
    probe_images,
)
from scenesearch.server.vector_maths import normalise

log = logging.getLogger(__name__)

AUTO, TORCH = "auto", "torch"


class Runtime(Protocol):
    """An optional inference runtime, registered by name in models.registry.RUNTIMES."""

    name: str

    def missing(self) -> str | None:
        """Why this runtime cannot run here (its package is not installed), or None."""
        ...

    def variants(self, precision: str) -> tuple[Variant, ...]:
        """What it offers for `--precision` (fp32: exact fp32 variants only)."""
        ...

    def build(
        self, variant: Variant, cache: TowerCache, towers: dict[str, Path], threads: int
    ) -> Engine:
        """An engine over the exported fp32 towers (it may derive and cache more files)."""
        ...


@dataclass(frozen=True, slots=True)
class Policy:
    min_cosine: float = 0.99  # every probe vector vs torch fp32
    min_speedup: float = 1.10  # what auto needs over torch to leave it
    skip_below_params: int = 5_000_000  # smaller models keep torch and export nothing
    batch: int = 16  # images per timed batch (the ingest default)
    rounds: int = 3


@dataclass(frozen=True, slots=True)
class Trial:
    label: str
    cosine: float | None = None  # lowest cosine to torch fp32 over the probe vectors
    seconds: float | None = None  # median time of one image batch
    error: str = ""


def min_cosine(a: Features, b: Features) -> float:
    return float(np.min(np.sum(normalise(a) * normalise(b), axis=1)))


def machine_id() -> str:
    """What makes a measurement this machine's: CPU, cores, threads, library versions."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    lines = sorted({ln for ln in cpuinfo.splitlines() if ln.startswith(("model name", "flags"))})
    from importlib.metadata import PackageNotFoundError, version

    versions = []
    for package in ("torch", "onnxruntime", "openvino"):
        try:
            versions.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package}=none")
    return "\n".join(
        [*lines, *versions, f"cpus={os.cpu_count()}", f"threads={torch.get_num_threads()}"]
    )


def _blocker(
    adapter: type[DualEncoder],
    device: torch.device,
    cache_root: Path | None,
    runtime: str,
    runtimes: Mapping[str, Runtime],
) -> str:
    if device.type != "cpu":
        return f"the other runtimes run on the CPU only, and the device is {device.type}"
    if adapter.export_blocker:
        return f"{adapter.family} models cannot be exported: {adapter.export_blocker}"
    if cache_root is None:
        return "no cache directory was given for the exported model"
    wanted = list(runtimes) if runtime == AUTO else [runtime]
    missing = [reason for name in wanted if (reason := runtimes[name].missing())]
    return "; ".join(missing) if len(missing) == len(wanted) else ""


def load_with_runtime(
    adapter: type[DualEncoder],
    model_id: str,
    device: str,
    precision: str,
    runtime: str,
    cache_root: Path | None,
    runtimes: Mapping[str, Runtime],
    policy: Policy | None = None,
) -> DualEncoder:
    """Load `model_id` with `adapter` and run it on `runtime` (see the module docstring)."""
    choices = (AUTO, TORCH, *runtimes)
    if runtime not in choices:
        raise ValueError(f"unknown runtime {runtime!r}; choose from {', '.join(choices)}")
    if runtime == TORCH:
        return adapter.load_checkpoint(model_id, device, precision)
    blocker = _blocker(adapter, select_device(device), cache_root, runtime, runtimes)
    if blocker:
        if runtime == AUTO:
            log.info("runtime auto: torch, because %s", blocker)
            return adapter.load_checkpoint(model_id, device, precision)
        raise ModelLoadError(
            f"--runtime {runtime} cannot run model {model_id!r}: {blocker}. "
            "Use --runtime torch (or auto)."
        )
    assert cache_root is not None
    encoder = adapter.load_checkpoint(model_id, "cpu", "fp32")
    try:
        cache = TowerCache.open(cache_root, encoder)
        with cache.locked():
            return _Chooser(encoder, cache, precision, runtime, runtimes, policy or Policy()).run()
    except OSError as exc:  # a full disk or a read-only data dir must not stop the server
        if runtime != AUTO:
            raise ModelLoadError(
                f"--runtime {runtime} needs a writable cache under {cache_root} ({exc}). Free "
                "some space or fix its permissions, or use --runtime torch."
            ) from exc
        log.warning("runtime auto: torch, because the cache under %s is unusable", cache_root)
        return adapter.load_checkpoint(model_id, device, precision)


class _Chooser:
    def __init__(
        self,
        encoder: DualEncoder,
        cache: TowerCache,
        precision: str,
        runtime: str,
        runtimes: Mapping[str, Runtime],
        policy: Policy,
    ) -> None:
        self.encoder, self.cache, self.runtime, self.policy = encoder, cache, runtime, policy
        self.dtype = preferred_dtype(torch.device("cpu"), precision)
        self.torch_label = f"torch {str(self.dtype).removeprefix('torch.')}"
        selected = [rt for name, rt in runtimes.items() if runtime in (AUTO, name)]
        self.candidates: dict[str, tuple[Runtime, Variant]] = {
            v.label: (rt, v)
            for rt in selected
            if rt.missing() is None
            for v in rt.variants(precision)
        }
        key = json.dumps([machine_id(), precision, runtime, asdict(policy)])
        self.choice_file = f"choice-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
        self.threads = torch.get_num_threads()

    def run(self) -> DualEncoder:
        saved = self.cache.read_json(self.choice_file) or {}
        chosen = saved.get("chosen")
        if chosen == self.torch_label and self.runtime == AUTO:
            log.info("runtime auto: %s (measured before: %s)", chosen, saved.get("reason", ""))
            return self._torch()
        if chosen in self.candidates:
            try:
                engine = self._build(chosen)
            except Exception:
                log.warning("runtime %s failed to load; measuring again", chosen, exc_info=True)
            else:
                log.info("runtime %s: %s (measured before)", self.runtime, chosen)
                self.encoder.use_engine(engine, str(saved.get("note", "")))
                return self.encoder
        return self._measure()

    def _build(self, label: str) -> Engine:
        runtime, variant = self.candidates[label]
        towers = self.cache.towers(self.encoder, self.encoder._model)
        return runtime.build(variant, self.cache, towers, self.threads)

    def _torch(self) -> DualEncoder:
        if self.dtype == self.encoder.dtype:
            return self.encoder
        model = self.encoder._model.to(self.dtype)
        return type(self.encoder)(
            model, self.encoder._processor, torch.device("cpu"), self.encoder.model_id
        )

    def _save(self, chosen: str, reason: str, note: str, trials: list[Trial]) -> None:
        self.cache.write_json(
            self.choice_file,
            {
                "chosen": chosen,
                "reason": reason,
                "note": note,
                "machine": machine_id(),
                "trials": [asdict(t) for t in trials],
            },
        )

    def _measure(self) -> DualEncoder:
        params = sum(p.numel() for p in self.encoder._model.parameters())
        if self.runtime == AUTO and params < self.policy.skip_below_params:
            reason = (
                f"{params:,} parameters, under {self.policy.skip_below_params:,}: a forward pass "
                "takes milliseconds whatever runs it"
            )
            log.info("runtime auto: %s, because %s", self.torch_label, reason)
            self._save(self.torch_label, reason, "", [])
            return self._torch()
        images = image_inputs(self.encoder, probe_images(self.policy.batch))
        texts, _ = self.encoder.text_inputs(PROBE_TEXTS)
        reference_engine = self.encoder.engine
        reference = (reference_engine.image_features(images), reference_engine.text_features(texts))
        engines: dict[str, Engine] = {}
        trials: dict[str, Trial] = {}
        if self.runtime == AUTO:
            torch_engine = reference_engine
            if self.dtype != self.encoder.dtype:
                model = copy.deepcopy(self.encoder._model).to(self.dtype)
                torch_engine = TorchEngine(model, torch.device("cpu"))
                torch_engine.image_features(images)  # warm-up
            engines[self.torch_label] = torch_engine
            trials[self.torch_label] = Trial(
                self.torch_label, self._agreement(torch_engine, images, texts, reference)
            )
        for label in self.candidates:
            try:
                engine = self._build(label)
                cosine = self._agreement(engine, images, texts, reference)
            except Exception as exc:
                log.warning("runtime %s is unusable here", label, exc_info=True)
                trials[label] = Trial(label, error=f"{type(exc).__name__}: {exc}"[:300])
                continue
            if cosine < self.policy.min_cosine:
                trials[label] = Trial(
                    label, cosine, error=f"cosine {cosine:.4f} < {self.policy.min_cosine}"
                )
                continue
            engines[label], trials[label] = engine, Trial(label, cosine)
        return self._time_and_choose(engines, trials, images)

    def _agreement(
        self, engine: Engine, images: Any, texts: Any, reference: tuple[Features, Features]
    ) -> float:
        return min(
            min_cosine(engine.image_features(images), reference[0]),
            min_cosine(engine.text_features(texts), reference[1]),
        )

    def _time_and_choose(
        self, engines: dict[str, Engine], trials: dict[str, Trial], images: Any
    ) -> DualEncoder:
        times: dict[str, list[float]] = {label: [] for label in engines}
        for _ in range(self.policy.rounds):
            for label, engine in engines.items():  # alternating, so noise hits all alike
                started = time.perf_counter()
                engine.image_features(images)
                times[label].append(time.perf_counter() - started)
        medians = {label: statistics.median(t) for label, t in times.items()}
        for label, seconds in medians.items():
            trials[label] = Trial(label, trials[label].cosine, seconds)
        summary = "; ".join(
            f"{t.label}: " + (f"{t.seconds:.3f}s, cos {t.cosine:.4f}" if t.seconds else t.error)
            for t in trials.values()
        )
        if not engines:
            raise ModelLoadError(
                f"--runtime {self.runtime} could not run model {self.encoder.model_id!r} "
                f"faithfully ({summary}). Use --runtime torch (or auto)."
            )
        best = min(medians, key=medians.__getitem__)
        note, reason = "", f"fastest that agrees ({summary})"
        if self.torch_label in medians and best != self.torch_label:
            speedup = medians[self.torch_label] / medians[best]
            if speedup < self.policy.min_speedup:
                best, reason = (
                    self.torch_label,
                    f"nothing {self.policy.min_speedup}x faster ({summary})",
                )
            else:
                note = f"auto, {speedup:.1f}x {self.torch_label}"
        log.info("runtime %s: %s, %s", self.runtime, best, reason)
        self._save(best, reason, note, list(trials.values()))
        if best == self.torch_label:
            return self._torch()
        self.encoder.use_engine(engines[best], note)
        return self.encoder
