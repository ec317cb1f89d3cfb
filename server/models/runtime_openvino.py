"""OpenVINO: the exported ONNX towers compiled for the CPU plugin.

OpenVINO chooses its own inference precision: bf16 on CPUs with native bf16 (AVX512_BF16 or
AMX), f32 elsewhere; `--precision fp32` pins f32. Compiled blobs are cached beside the towers,
so later starts skip most of the compile.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from scenesearch.server.models.runtime import Features, Inputs, Variant, as_numpy
from scenesearch.server.models.runtime_export import IMAGE, TEXT, TowerCache

INSTALL_HINT = "pip install 'scenesearch[openvino]'"
NATIVE = Variant("openvino", "openvino")
F32 = Variant("openvino", "openvino f32", options={"INFERENCE_PRECISION_HINT": "f32"})


class OpenVinoEngine:
    def __init__(self, label: str, compiled: dict[str, Any]) -> None:
        self.label = label
        self._compiled = compiled
        self._requests = {tower: model.create_infer_request() for tower, model in compiled.items()}
        # A port may carry several tensor names; the graph input's name is one of them.
        self._ports = {
            tower: [set(port.get_names()) for port in model.inputs]
            for tower, model in compiled.items()
        }

    def _run(self, tower: str, inputs: Inputs) -> Features:
        names = tuple(next(k for k in inputs if k in port) for port in self._ports[tower])
        arrays = as_numpy(inputs, names)
        # One request per tower, reused: the encoder runs one forward pass at a time.
        result = self._requests[tower].infer([arrays[name] for name in names])
        return np.array(result[0], dtype=np.float32)

    def image_features(self, inputs: Inputs) -> Features:
        return self._run(IMAGE, inputs)

    def text_features(self, inputs: Inputs) -> Features:
        return self._run(TEXT, inputs)


class OpenVinoRuntime:
    name = "openvino"

    def missing(self) -> str | None:
        if importlib.util.find_spec("openvino") is None:
            return f"openvino is not installed ({INSTALL_HINT})"
        return None

    def variants(self, precision: str) -> tuple[Variant, ...]:
        return (F32,) if precision == "fp32" else (NATIVE,)

    def build(
        self, variant: Variant, cache: TowerCache, towers: dict[str, Path], threads: int
    ) -> OpenVinoEngine:
        ov: Any = importlib.import_module("openvino")
        core = ov.Core()
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads,
            "CACHE_DIR": str(cache.directory / "openvino"),
            **variant.options,
        }
        compiled = {
            tower: core.compile_model(str(path), "CPU", config) for tower, path in towers.items()
        }
        hint = compiled[IMAGE].get_property("INFERENCE_PRECISION_HINT")
        precision = hint.to_string() if hasattr(hint, "to_string") else str(hint)
        label = variant.label if variant.options else f"{variant.label} {precision}"
        return OpenVinoEngine(label, compiled)
