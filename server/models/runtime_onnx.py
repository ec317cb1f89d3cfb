"""ONNX Runtime: the exported towers in fp32, or with int8 weights (dynamic quantisation).

Dynamic quantisation stores MatMul/Gemm weights as int8 and quantises activations per batch
at run time, so it needs no calibration data; CPUs with VNNI run it fastest. Whether its
vectors are close enough to fp32 is measured per checkpoint by runtime_select, not assumed.
Activations share one scale per batch, so an image's int8 vector moves slightly (cosine
above 0.999 in our tests) with the other images in its batch.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from scenesearch.server.models.runtime import Features, Inputs, Variant, as_numpy
from scenesearch.server.models.runtime_export import IMAGE, TEXT, TowerCache

INSTALL_HINT = "pip install onnxruntime onnx, or 'scenesearch[server]'"
FP32 = Variant("onnx", "onnx fp32")
INT8 = Variant("onnx", "onnx int8")


def quantise(source: Path, target: Path) -> None:
    quantization: Any = importlib.import_module("onnxruntime.quantization")
    # The quantiser logs every tensor (and advice) on the root logger; a first start is not the
    # place for hundreds of lines.
    logging.disable(logging.WARNING)
    try:
        quantization.quantize_dynamic(
            source,
            target,
            op_types_to_quantize=["MatMul", "Gemm"],
            per_channel=True,
            weight_type=quantization.QuantType.QInt8,
        )
    finally:
        logging.disable(logging.NOTSET)


class OnnxEngine:
    def __init__(self, label: str, sessions: dict[str, Any]) -> None:
        self.label = label
        self._sessions = sessions
        self._inputs = {
            tower: tuple(i.name for i in session.get_inputs())
            for tower, session in sessions.items()
        }

    def _run(self, tower: str, inputs: Inputs) -> Features:
        out = self._sessions[tower].run(None, as_numpy(inputs, self._inputs[tower]))[0]
        return np.asarray(out, dtype=np.float32)

    def image_features(self, inputs: Inputs) -> Features:
        return self._run(IMAGE, inputs)

    def text_features(self, inputs: Inputs) -> Features:
        return self._run(TEXT, inputs)


class OnnxRuntime:
    name = "onnx"

    def missing(self) -> str | None:
        if importlib.util.find_spec("onnxruntime") is None:
            return f"onnxruntime is not installed ({INSTALL_HINT})"
        return None

    def variants(self, precision: str) -> tuple[Variant, ...]:
        # Quantising needs the onnx package as well as onnxruntime.
        if precision == "fp32" or importlib.util.find_spec("onnx") is None:
            return (FP32,)
        return (FP32, INT8)

    def build(
        self, variant: Variant, cache: TowerCache, towers: dict[str, Path], threads: int
    ) -> OnnxEngine:
        ort: Any = importlib.import_module("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Threads that spin between batches would steal the CPU from the other process
        # (server or ingest worker) on small machines: they sleep instead.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions = {}
        for tower, path in towers.items():
            if variant == INT8:
                path = cache.file(f"{tower}.int8.onnx", partial(quantise, path))
            sessions[tower] = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        return OnnxEngine(variant.label, sessions)
