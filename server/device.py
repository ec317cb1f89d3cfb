"""Accelerator selection: cuda, then Intel Gaudi (hpu), then Apple mps, then cpu.

Optional backends are probed inside try/except ImportError, the way PySceneDetect registers
its optional video backends, so a missing vendor package never breaks start-up.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def _cuda_available() -> bool:
    return torch.cuda.is_available()


def _hpu_available() -> bool:
    try:
        # Importing habana_frameworks.torch registers the "hpu" device with torch.
        hpu = importlib.import_module("habana_frameworks.torch.hpu")
    except ImportError:
        return False
    try:
        return bool(hpu.is_available())
    except Exception:  # a broken driver install must not stop a CPU fallback
        log.warning("habana_frameworks imported but HPU is not usable", exc_info=True)
        return False


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


# Probe order is preference order.
PROBES: tuple[tuple[str, Callable[[], bool]], ...] = (
    ("cuda", _cuda_available),
    ("hpu", _hpu_available),
    ("mps", _mps_available),
)


def select_device(requested: str = "auto") -> torch.device:
    """Return the requested device, or the best available one for "auto"."""
    if requested != "auto":
        kind = requested.split(":", 1)[0]
        if kind == "hpu":
            _hpu_available()  # registers the device type with torch
        try:
            return torch.device(requested)
        except RuntimeError as exc:
            raise ValueError(f"unknown device {requested!r}: {exc}") from exc
    for name, probe in PROBES:
        if probe():
            return torch.device(name)
    return torch.device("cpu")


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_amx_bf16() -> bool:
    """True on CPUs with AMX bf16 tiles, where bf16 inference runs about twice as fast."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def preferred_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The inference dtype for `precision` ("auto", "fp32", "bf16" or "fp16").

    auto: fp16 on CUDA and MPS, bf16 on Gaudi and on CPUs with AMX bf16, otherwise fp32.
    """
    if precision != "auto":
        try:
            return PRECISIONS[precision]
        except KeyError:
            raise ValueError(
                f"unknown precision {precision!r}; choose auto, fp32, bf16 or fp16"
            ) from None
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_amx_bf16() else torch.float32
    if device.type == "hpu":
        return torch.bfloat16
    return torch.float16
