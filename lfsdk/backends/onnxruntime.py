"""onnxruntime backend: an lfsdk .onnx file, or a checkpoint exported once into the cache (lfsdk.backends.model_file).

CPU: FP32 (default) or the static INT8 QDQ model; FP16 graphs run too (slowly on CPUs: they exist to show
TensorRT's numerics). CUDA: the CUDA execution provider (and TensorRT's, first, when `trt_provider=True`)
when the installed onnxruntime has them; inputs and outputs are then bound to torch CUDA tensors with I/O
binding, so nothing goes through host memory. Per-stage times come from onnxruntime's profiler, each node
mapped onto a stage by its name (lfsdk.stages).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..contract import INPUT_NAME, OUTPUT_NAMES
from ..model.onnx_metadata import read_onnx_config
from ..stages import stage_of
from .base import Availability, Backend, BackendUnavailable, Outputs, resolve_device
from .model_file import onnx_for, onnx_precision

__all__ = ["OnnxRuntimeBackend"]



def _ort():
    try:
        import onnxruntime
    except ImportError as e:
        raise BackendUnavailable(f"onnxruntime is not installed ({e}): pip install onnxruntime "
                                 "(or onnxruntime-gpu for CUDA)") from None
    return onnxruntime


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    suffixes = (".onnx",)
    precisions = {"cpu": ("fp32", "int8", "fp16"), "cuda": ("fp32", "fp16")}

    def __init__(self, session, onnx_path: Path, config, device: torch.device, precision: str,
                 max_batch: int | None, session_options: dict):
        super().__init__(config, device, precision, max_batch)
        self.session = session
        self.onnx_path = onnx_path
        self._options = session_options
        names = [o.name for o in session.get_outputs()]
        missing = [n for n in OUTPUT_NAMES if n not in names]
        if missing or [i.name for i in session.get_inputs()] != [INPUT_NAME]:
            raise BackendUnavailable(f"{onnx_path}: expected input ['crops'] and outputs {list(OUTPUT_NAMES)}, "
                                     f"got {[i.name for i in session.get_inputs()]} → {names} (export with lfsdk-export)")

    @classmethod
    def providers(cls, device: torch.device, trt_provider: bool = False) -> list:
        if device.type == "cpu":
            return ["CPUExecutionProvider"]
        opts = {"device_id": device.index or 0}
        trt = [("TensorrtExecutionProvider", opts)] if trt_provider else []
        return trt + [("CUDAExecutionProvider", opts)]

    @classmethod
    def available(cls, device: str | torch.device | None = None) -> Availability:
        try:
            ort = _ort()
            dev = resolve_device(device)
        except (BackendUnavailable, ValueError) as e:
            return Availability(False, str(e))
        if dev.type == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
            return Availability(False, f"onnxruntime {ort.__version__} has no CUDAExecutionProvider "
                                       "(pip install onnxruntime-gpu)")
        return Availability(True)

    @classmethod
    def precisions_for(cls, path: Path, device: torch.device) -> tuple[str, ...]:
        """An .onnx runs at the precision it holds (and INT8, quantised from an FP32 one); a checkpoint at
        every precision, each exported once."""
        runs = cls.precisions.get(device.type, ())
        if Path(path).suffix != ".onnx":
            return tuple(runs)
        try:
            held = onnx_precision(Path(path))
        except BackendUnavailable:
            return ()
        return tuple(p for p in runs if p == held or (p == "int8" and held == "fp32"))

    @classmethod
    def load(cls, path: Path, *, device: str | torch.device | None = None, precision: str | None = None,
             max_batch: int | None = None, threads: int | None = None, trt_provider: bool = False,
             **options) -> "OnnxRuntimeBackend":
        dev = resolve_device(device)
        if precision is not None:
            cls.resolve_precision(dev, precision)
        onnx_path, prec = onnx_for(path, precision)
        cls.resolve_precision(dev, prec)
        session_options = {"threads": threads, "providers": cls.providers(dev, trt_provider)}
        try:
            session = cls._session(onnx_path, session_options)
        except Exception as e:  # onnxruntime raises its own exception types for unreadable graphs
            raise BackendUnavailable(f"onnxruntime cannot open {onnx_path}: {e}") from None
        return cls(session, onnx_path, read_onnx_config(onnx_path), dev, prec, max_batch, session_options)

    @staticmethod
    def _session(onnx_path: Path, options: dict, profile_dir: str | None = None):
        ort = _ort()
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if options.get("threads"):
            so.intra_op_num_threads = int(options["threads"])
        if profile_dir is not None:
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(profile_dir, "ort")
        return ort.InferenceSession(os.fspath(onnx_path), so, providers=options["providers"])

    def _infer(self, crops: torch.Tensor) -> Outputs:
        if self.device.type == "cpu":
            out = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: crops.numpy()})
            return Outputs(*(torch.from_numpy(o) for o in out))
        return self._infer_bound(crops)

    def _infer_bound(self, crops: torch.Tensor) -> Outputs:
        """CUDA: bind the torch input and freshly allocated torch outputs by device pointer."""
        b, m = crops.shape[0], self.config.num_joints
        shapes = {"joints": (b, m, 3), "branch_joints": (b, 3, m, 3), "fusion_weights": (b, 3)}
        outs = {k: torch.empty(s, device=self.device, dtype=torch.float32) for k, s in shapes.items()}
        binding = self.session.io_binding()
        idx = self.device.index or 0
        binding.bind_input(INPUT_NAME, "cuda", idx, np.float32, tuple(crops.shape), crops.data_ptr())
        for k, t in outs.items():
            binding.bind_output(k, "cuda", idx, np.float32, tuple(t.shape), t.data_ptr())
        # onnxruntime's CUDA provider runs on its own stream: the input must be ready before it starts, and
        # the outputs complete before torch reads them
        torch.cuda.current_stream(self.device).synchronize()
        self.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return Outputs(*(outs[k] for k in OUTPUT_NAMES))

    def stage_times(self, crops: torch.Tensor, iters: int) -> dict[str, list[float]]:
        """A second session with onnxruntime's profiler on: each run's node times summed per stage."""
        crops = self.check_crops(crops)
        with tempfile.TemporaryDirectory() as tmp:
            sess = self._session(self.onnx_path, self._options, profile_dir=tmp)
            feed = {INPUT_NAME: crops.cpu().numpy()}
            sess.run(None, feed)  # warm-up run, dropped below
            for _ in range(iters):
                sess.run(None, feed)
            trace = json.loads(Path(sess.end_profiling()).read_text())
        return _per_stage(stage_times_from_trace(trace), iters)


def stage_times_from_trace(trace: list[dict]) -> list[dict[str, float]]:
    """onnxruntime profile events → per model run, ms per stage (kernel events mapped by node name)."""
    runs: list[dict[str, float]] = []
    current: dict[str, float] = {}
    for ev in trace:
        if ev.get("cat") == "Session" and ev.get("name") == "model_run":
            runs.append(current)
            current = {}
        elif ev.get("cat") == "Node" and ev.get("name", "").endswith("_kernel_time"):
            stage = stage_of(ev.get("args", {}).get("node_name") or ev["name"][: -len("_kernel_time")])
            if stage is not None:
                current[stage] = current.get(stage, 0.0) + ev.get("dur", 0) / 1e3
    return runs


def _per_stage(runs: list[dict[str, float]], iters: int) -> dict[str, list[float]]:
    runs = runs[-iters:]
    stages = sorted({s for r in runs for s in r})
    return {s: [r.get(s, 0.0) for r in runs] for s in stages}
