"""Static INT8 (QDQ) for onnxruntime on the CPU, calibrated on generated frames.

    quantize_int8("hand.onnx", "hand.int8.onnx", crops)   # crops (N,1,S,S) float32, or a dict of inputs

What is quantised: the `features` and `branches.N` stages (convolutions with per-channel INT8 weights,
their activations UINT8 — onnxruntime's U8S8 recommendation for x86), except each branch's last 1×1
conv, so the heatmap logits are never rounded to 8 bits. What stays FP32: those heads, everything in
`decode` (softmax, multiply-accumulate), `fusion` and `postprocess`. The fusion net sees the softmax
probabilities (~1/1024 each) concatenated with the 1D heatmaps in one tensor, so a per-tensor activation
scale would wipe the probabilities out; it is 0.07 M parameters and a few MMACs, so FP32 costs little.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

from ..stages import stage_of
from ..model.onnx_metadata import read_metadata, read_onnx_config, write_metadata

__all__ = ["QUANTISED_STAGES", "CropsReader", "quantize_int8", "excluded_nodes", "name_by_consumer"]

#: Stages whose convolutions run INT8. Measured on the shipped default model (64 held-out rendered frames,
#: 256 calibration frames, MinMax, per-channel; mean joint distance to ONNX FP32): features + branches
#: 1.51 mm (Percentile 99.99: 1.88, Entropy: 1.51, S8S8: 1.51, first conv in FP32: 1.75), features alone
#: 1.35 mm, branches alone 0.59 mm. The hourglass features do not survive 8-bit activations within the
#: 1 mm bar, so they stay FP32; the branches still hold 63% of the network's MACs.
QUANTISED_STAGES = ("heatmaps",)


class CropsReader(CalibrationDataReader):
    """Calibration frames for onnxruntime, `batch` at a time: a crops array (N,1,S,S) or a dict of graph
    inputs (`crops`, and `centers`/`camera`/`cube` for an xyz graph); `graph_inputs` selects and checks."""

    def __init__(self, inputs: np.ndarray | Mapping[str, np.ndarray], batch: int = 16, *,
                 graph_inputs: list[str] | None = None):
        feeds = {"crops": inputs} if isinstance(inputs, np.ndarray) else dict(inputs)
        feeds = {k: np.asarray(v, np.float32) for k, v in feeds.items() if k != "source"}
        crops = feeds.get("crops")
        if crops is None or crops.ndim != 4 or crops.shape[1] != 1 or len(crops) == 0:
            raise ValueError(f"calibration crops must be (N, 1, S, S) with N ≥ 1, got "
                             f"{None if crops is None else crops.shape}")
        if not np.isfinite(crops).all():
            raise ValueError("calibration crops contain NaN or inf")
        if graph_inputs is not None:
            missing = [n for n in graph_inputs if n not in feeds]
            if missing:
                raise ValueError(f"calibration data lacks graph inputs {missing} (got {sorted(feeds)})")
            feeds = {k: feeds[k] for k in graph_inputs}
        self.inputs, self.batch, self.i, self.n = feeds, batch, 0, len(crops)

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.i >= self.n:
            return None
        sl = slice(self.i, self.i + self.batch)
        self.i += self.batch
        return {k: (v if k == "camera" else np.ascontiguousarray(v[sl])) for k, v in self.inputs.items()}

    def rewind(self) -> None:
        self.i = 0


def excluded_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes kept in FP32: every node outside QUANTISED_STAGES, and the nodes inside them
    whose outputs only leave them (the heatmap head 1×1 convs): the quantiser would otherwise put a
    UINT8 Q/DQ pair on their outputs, i.e. on the heatmap logits the FP32 softmax decodes."""
    consumers: dict[str, list[str]] = {}
    for n in model.graph.node:
        for t in n.input:
            consumers.setdefault(t, []).append(n.name)
    inside = {n.name for n in model.graph.node if stage_of(n.name) in QUANTISED_STAGES}
    exits = {n.name for n in model.graph.node if n.name in inside and all(
        c not in inside for t in n.output for c in consumers.get(t, []))}
    return [n.name for n in model.graph.node if n.name not in inside or n.name in exits]


def name_by_consumer(model: onnx.ModelProto) -> int:
    """Give the Q/DQ pairs the quantiser adds (named after tensors such as `crops`, `onnx::Conv_12` or an
    FP32 stage's output) and other stage-less nodes the module path of the node that consumes their output,
    so lfsdk.stages still maps every node. In place; returns how many were renamed."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for t in n.input:
            consumers.setdefault(t, []).append(n)
    taken = {n.name for n in model.graph.node}

    qdq = ("QuantizeLinear", "DequantizeLinear")

    def scope(node: onnx.NodeProto, depth: int = 0) -> str | None:
        # a Q/DQ pair belongs to the quantised op it feeds, even when it is named after a tensor that an
        # FP32 stage produced (the pair on the features → branches boundary)
        if stage_of(node.name) is not None and node.op_type not in qdq:
            return node.name.rsplit("/", 1)[0]
        if depth > 4:
            return None
        for t in node.output:
            for c in consumers.get(t, []):
                s = scope(c, depth + 1)
                if s is not None:
                    return s
        return None

    renamed = 0
    for n in model.graph.node:
        if stage_of(n.name) is None or n.op_type in qdq:
            s = scope(n)
            if s is not None:
                new = f"{s}/{n.name.replace('/', '_').replace('::', '_')}"
                while new in taken:
                    new += "_"
                taken.add(new)
                n.name = new
                renamed += 1
    return renamed


def quantize_int8(onnx_path: str | os.PathLike, out_path: str | os.PathLike,
                  calibration_crops: np.ndarray | Mapping[str, np.ndarray], *, batch: int = 16,
                  per_channel: bool = True) -> Path:
    """Static QDQ INT8 copy of an lfsdk FP32 ONNX file, calibrated (MinMax) on `calibration_crops`
    ((N,1,S,S) crops, or a dict of all graph inputs for an xyz graph). Returns out_path."""
    src = onnx.load(os.fspath(onnx_path))
    meta = read_metadata(src)
    config = read_onnx_config(src)
    if meta.get("precision") != "fp32":
        raise ValueError(f"{onnx_path}: quantise the FP32 export, this one is {meta.get('precision')!r}")
    reader = CropsReader(calibration_crops, batch, graph_inputs=[i.name for i in src.graph.input])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_out = Path(tmp) / "int8.onnx"
        quantize_static(os.fspath(onnx_path), tmp_out, reader, quant_format=QuantFormat.QDQ,
                        per_channel=per_channel, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=excluded_nodes(src), calibrate_method=CalibrationMethod.MinMax)
        q = onnx.load(os.fspath(tmp_out))
    name_by_consumer(q)
    write_metadata(q, config, precision="int8", xyz=meta.get("xyz") == "1",
                   checkpoint_sha256=meta.get("checkpoint_sha256") or None)
    onnx.checker.check_model(q, full_check=True)
    onnx.save(q, os.fspath(out_path))
    return Path(out_path)
