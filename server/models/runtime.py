"""Inference runtimes: what runs a model's two towers once the processor has made the inputs.

A `DualEncoder` (one per model family) tokenizes, preprocesses, normalises and calibrates; its
`Engine` only maps the processor's tensors to raw features. torch is always there; ONNX
Runtime and OpenVINO (`runtime_onnx`, `runtime_openvino`) are optional and run towers
exported from the same checkpoint (`runtime_export`). `runtime_select` picks among them.

A runtime (see `runtime_select.Runtime`) offers one or more `Variant`s (ONNX Runtime: fp32 and
int8), each of which builds an Engine. Runtimes whose package is missing say so in `missing()`
instead of failing import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import torch

Features = npt.NDArray[np.float32]
Inputs = Mapping[str, torch.Tensor]


def pooled(output: Any) -> torch.Tensor:
    # transformers 5 returns a model output whose pooler_output is the projected feature;
    # 4.x returned the tensor itself.
    if isinstance(output, torch.Tensor):
        return output
    return output.pooler_output


class Engine(Protocol):
    """Raw (not yet normalised) features for the processor's inputs, as float32 arrays."""

    label: str  # what GetStats shows, e.g. "onnx int8"

    def image_features(self, inputs: Inputs) -> Features: ...

    def text_features(self, inputs: Inputs) -> Features: ...


class TorchEngine:
    """The transformers model itself, on its device in its dtype."""

    label = "torch"

    def __init__(self, model: Any, device: torch.device) -> None:
        self.model = model
        self.device = device
        self.dtype: torch.dtype = next(model.parameters()).dtype

    def image_features(self, inputs: Inputs) -> Features:
        with torch.inference_mode():
            out = pooled(self.model.get_image_features(**self._to_device(inputs)))
        return out.float().cpu().numpy()

    def text_features(self, inputs: Inputs) -> Features:
        with torch.inference_mode():
            out = pooled(self.model.get_text_features(**self._to_device(inputs)))
        return out.float().cpu().numpy()

    def _to_device(self, inputs: Inputs) -> dict[str, torch.Tensor]:
        # Pixels follow the model's dtype; masks, ids and shapes keep their integer types.
        return {
            key: value.to(self.device, self.dtype)
            if value.is_floating_point()
            else value.to(self.device)
            for key, value in inputs.items()
        }


def as_numpy(inputs: Inputs, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named inputs as the arrays an exported graph takes: float32 pixels, int64 ids."""
    arrays: dict[str, np.ndarray] = {}
    for name in names:
        value = inputs[name]
        arrays[name] = value.float().numpy() if value.is_floating_point() else value.long().numpy()
    return arrays


@dataclass(frozen=True, slots=True)
class Variant:
    """One way a runtime can run the towers, e.g. ONNX Runtime with int8 weights."""

    runtime: str  # the --runtime name
    label: str  # "onnx int8"
    options: Mapping[str, str] = field(default_factory=dict)
