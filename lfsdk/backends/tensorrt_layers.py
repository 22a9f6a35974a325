"""TensorRT's names mapped onto lfsdk's: engine I/O dtypes → torch dtypes, and per-layer profiler times →
lfsdk.stages (features, heatmaps, decode+fusion). Pure Python: tested without TensorRT."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import torch

from ..stages import NETWORK_STAGES, stage_of

__all__ = ["TRT_TO_TORCH", "torch_dtype", "layer_stage", "StageTimes", "profiler"]

#: TensorRT DataType name → torch dtype. INT4, FP4 and E8M0 have no torch tensor type and never appear at
#: this network's I/O; they are refused by name rather than mapped to something wrong.
TRT_TO_TORCH = {
    "FLOAT": torch.float32, "HALF": torch.float16, "BF16": torch.bfloat16, "INT8": torch.int8,
    "INT32": torch.int32, "INT64": torch.int64, "BOOL": torch.bool, "UINT8": torch.uint8,
    "FP8": torch.float8_e4m3fn,
}


def torch_dtype(trt_name: str) -> torch.dtype:
    try:
        return TRT_TO_TORCH[trt_name]
    except KeyError:
        raise ValueError(f"TensorRT dtype {trt_name} has no torch equivalent for an I/O buffer") from None


# -- per-layer profile → stages -----------------------------------------------------------------------------
# TensorRT layer names wrap ONNX node names: "a + b" (fused), "{ForeignNode[first...last]}" (Myelin),
# "Reformatting CopyNode for Input Tensor 0 to X", "PWN(a, b)". The first token that carries a module
# path decides, so a reformat counts towards the layer it feeds and a fused layer counts once.
_TOKENS = re.compile(r"\.\.\.|\s\+\s|[\s\[\]{}(),]+")


def layer_stage(layer_name: str) -> str | None:
    """Stage (lfsdk.stages) of a TensorRT layer name; None for layers with no module path in any part."""
    for token in _TOKENS.split(layer_name):
        stage = stage_of(token) if token else None
        if stage is not None:
            return stage
    return None


@dataclass
class StageTimes:
    """Per-layer times summed into stages; what TensorRT's IProfiler reports goes to add()."""

    ms: dict = field(default_factory=lambda: defaultdict(float))
    unmapped: set = field(default_factory=set)

    def add(self, layer_name: str, ms: float) -> None:
        stage = layer_stage(layer_name)
        if stage is None:
            self.unmapped.add(layer_name)
            stage = "other"
        self.ms[stage] += float(ms)

    def per_run(self, runs: int) -> dict[str, float]:
        """Mean ms per run for the network stages (always present) and 'other' (when any)."""
        order = [*NETWORK_STAGES, *sorted(set(self.ms) - set(NETWORK_STAGES))]
        return {s: self.ms.get(s, 0.0) / runs for s in order}


def profiler(trt, sink: StageTimes):
    """An IProfiler of module `trt` (tensorrt) that adds every layer time to `sink`."""
    class Profiler(trt.IProfiler):  # the base __init__ must be called explicitly (IProfiler docs)
        def __init__(self):
            trt.IProfiler.__init__(self)

        def report_layer_time(self, layer_name, ms):
            sink.add(layer_name, ms)

    return Profiler()

