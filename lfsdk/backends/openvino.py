"""OpenVINO backend: the CPU fast path (optional extra: pip install "lfsdk[openvino]").

Runs the same ONNX file as onnxruntime (an .onnx, or a checkpoint exported once into the cache). On CPUs
with native bfloat16 (AVX512_BF16 or AMX) it defaults to BF16 inference precision — measured ~2× onnxruntime
FP32 at batch 1 on this project's CPU within the 1 mm INT8 parity bound (benchmarks/bench_cpu_backends.py);
`precision="fp32"` forces FP32 (OpenVINO would otherwise pick BF16 on such CPUs by itself). Per-stage times
come from OpenVINO's per-node performance counters, each node mapped onto a stage by its name.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..contract import INPUT_NAME, OUTPUT_NAMES
from ..model.onnx_metadata import read_onnx_config
from ..stages import stage_of
from .base import Availability, Backend, BackendUnavailable, Outputs, resolve_device
from .model_file import onnx_for, onnx_precision

__all__ = ["OpenVINOBackend"]

_HINT = {"fp32": "f32", "bf16": "bf16"}


def _ov():
    try:
        import openvino
    except ImportError as e:
        raise BackendUnavailable(f"openvino is not installed ({e}): pip install openvino "
                                 "(or pip install 'lfsdk[openvino]')") from None
    return openvino


@lru_cache(maxsize=1)
def _core():
    return _ov().Core()


def cpu_has_bf16() -> bool:
    """Whether OpenVINO runs BF16 natively on this CPU (it lists BF16 among the CPU's capabilities)."""
    try:
        return "BF16" in _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except (BackendUnavailable, RuntimeError):
        return False


class OpenVINOBackend(Backend):
    name = "openvino"
    suffixes = (".onnx",)
    # the default (first) is decided per machine in `default_precisions`
    precisions = {"cpu": ("fp32", "bf16")}

    def __init__(self, compiled, onnx_path: Path, config, precision: str, max_batch: int | None):
        super().__init__(config, torch.device("cpu"), precision, max_batch)
        self.compiled = compiled
        self.onnx_path = onnx_path
        self.request = compiled.create_infer_request()
        names = [o.get_any_name() for o in compiled.outputs]
        missing = [n for n in OUTPUT_NAMES if n not in names]
        if missing:
            raise BackendUnavailable(f"{onnx_path}: outputs {names} lack {missing} (export with lfsdk-export)")
        self._outputs = [compiled.output(n) for n in OUTPUT_NAMES]

    @classmethod
    def default_precision(cls) -> str:
        return "bf16" if cpu_has_bf16() else "fp32"

    @classmethod
    def available(cls, device: str | torch.device | None = None) -> Availability:
        try:
            _ov()
            dev = resolve_device(device)
        except (BackendUnavailable, ValueError) as e:
            return Availability(False, str(e))
        if dev.type != "cpu":
            return Availability(False, f"lfsdk runs OpenVINO on the CPU only, not {dev}")
        return Availability(True)

    @classmethod
    def precisions_for(cls, path: Path, device: torch.device) -> tuple[str, ...]:
        """OpenVINO lowers an FP32 model itself: an .onnx must be FP32; a checkpoint is exported at FP32."""
        runs = tuple(cls.precisions.get(device.type, ()))
        if Path(path).suffix != ".onnx":
            return runs
        try:
            return runs if onnx_precision(Path(path)) == "fp32" else ()
        except BackendUnavailable:
            return ()

    @classmethod
    def load(cls, path: Path, *, device: str | torch.device | None = None, precision: str | None = None,
             max_batch: int | None = None, threads: int | None = None, **options) -> "OpenVINOBackend":
        ov = _ov()
        dev = resolve_device(device if device is not None else "cpu")
        prec = cls.resolve_precision(dev, precision or cls.default_precision())
        onnx_path, file_prec = onnx_for(path, None if Path(path).suffix == ".onnx" else "fp32")
        if file_prec != "fp32":
            raise BackendUnavailable(f"{onnx_path} is a {file_prec} model; OpenVINO runs the FP32 export and "
                                     "lowers it itself (precision='bf16')")
        config = {"INFERENCE_PRECISION_HINT": _HINT[prec], "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            model = _core().read_model(str(onnx_path))
            inputs = [i.get_any_name() for i in model.inputs]
            if inputs != [INPUT_NAME]:  # as onnxruntime checks: refuse at load, so auto() moves on
                raise BackendUnavailable(f"{onnx_path}: expected the input [{INPUT_NAME!r}], got {inputs} "
                                         "(export with lfsdk-export)")
            compiled = _core().compile_model(model, "CPU", config)
        except BackendUnavailable:
            raise
        except RuntimeError as e:
            raise BackendUnavailable(f"OpenVINO {ov.__version__} cannot compile {onnx_path}: {e}") from None
        return cls(compiled, onnx_path, read_onnx_config(onnx_path), prec, max_batch)

    def _infer(self, crops: torch.Tensor) -> Outputs:
        res = self.request.infer({INPUT_NAME: crops.numpy()})
        # copies: the request reuses its output buffers on the next call
        return Outputs(*(torch.from_numpy(np.array(res[o], dtype=np.float32, copy=True)) for o in self._outputs))

    def stage_times(self, crops: torch.Tensor, iters: int) -> dict[str, list[float]]:
        """A second compiled model with PERF_COUNT on; per run, node real times summed per stage."""
        crops = self.check_crops(crops)
        config = {"INFERENCE_PRECISION_HINT": _HINT[self.precision], "PERFORMANCE_HINT": "LATENCY",
                  "PERF_COUNT": True}
        req = _core().compile_model(_core().read_model(str(self.onnx_path)), "CPU", config).create_infer_request()
        feed = {INPUT_NAME: crops.numpy()}
        req.infer(feed)
        out: dict[str, list[float]] = {}
        for _ in range(iters):
            req.infer(feed)
            per: dict[str, float] = {}
            for info in req.profiling_info:
                stage = stage_of(info.node_name)
                if stage is not None:
                    per[stage] = per.get(stage, 0.0) + info.real_time.total_seconds() * 1e3
            for k, v in per.items():
                out.setdefault(k, []).append(v)
        return out
