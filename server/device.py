"""Accelerator selection: cuda, then Intel Gaudi (hpu), then Apple mps, then cpu.

Optional backends are probed inside try/except ImportError, the way PySceneDetect registers
its optional video backends, so a missing vendor package never breaks start-up.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

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


def preferred_dtype(device: torch.device) -> torch.dtype:
    """Half precision on accelerators (bf16 on Gaudi, fp16 elsewhere); fp32 on the CPU."""
    if device.type == "cpu":
        return torch.float32
    if device.type == "hpu":
        return torch.bfloat16
    return torch.float16
