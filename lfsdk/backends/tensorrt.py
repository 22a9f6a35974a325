"""TensorRT backend: an engine (or an ONNX built once into the engine cache) run on torch CUDA tensors.

    backend = create("tensorrt", "hand.engine")          # checks hand.engine.json against this machine
    backend = create("tensorrt", "model_fp16.onnx")      # builds into ~/.cache/lfsdk once, then loads
    backend = create("tensorrt", "runs/exp/best")         # a checkpoint: FP16 ONNX export first, then as above
    out = backend(crops)                                  # Outputs(joints, branch_joints, fusion_weights)
    backend.stage_times(crops)                            # ms per stage from TensorRT's per-layer profiler

Buffers are torch tensors described by the engine's named I/O tensors (name, shape, dtype all read from the
engine), bound with set_tensor_address(data_ptr()); execute_async_v3 runs on a torch.cuda.Stream, so no
pycuda. Batches are padded up to a few buckets (powers of two within the profile), and each bucket's input
shape gets its own execution context, buffers and CUDA graph, the `max_slots` most recently used kept, so a
varying hand count neither re-captures graphs nor grows memory without bound: one plain enqueue first
(TensorRT may do deferred work on the first enqueue of a shape), then capture on the non-default stream in
thread-local mode as trtexec does (samples/common/sampleInference.cpp, sampleDevice.h), then replay. The
contexts share one scratch allocation (USER_MANAGED + set_device_memory), which is safe because they all run
on one stream. Batches below the profile's min are padded (last row repeated); batches above its max are
split by Backend.__call__ (max_batch is the profile max). EngineRunner is the name-based core and the
backend a thin layer over it (export.parity runs the backend itself).

Nothing here imports tensorrt at module import; the pure parts (dtype map, layer → stage, stage sums,
graph bookkeeping) are tested without it. API: TensorRT ≥ 10.8 and 11.x (python/src/infer/pyCore.cpp).
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch

from .._version import __version__
from ..engine_cache import (
    DEFAULT_PROFILE, BatchProfile, EngineSidecar, MachineInfo, SidecarError, TensorRTMissing, check_io,
    check_sidecar, engine_cache_path, import_tensorrt, parse_profile, read_sidecar, tensorrt_too_old,
)
from ..model.checkpoint import file_sha256
from ..model.network import ModelConfig
from .base import Availability, Backend, BackendUnavailable, Outputs
from .model_file import onnx_for, onnx_precision
from .onnx_info import OnnxParseError, inspect_onnx
from .tensorrt_build import BuildConfig, build_engine
from .tensorrt_layers import TRT_TO_TORCH, StageTimes, layer_stage, torch_dtype
from .tensorrt_runner import EngineRunner, batch_bucket, pad_batch

__all__ = ["TensorRTBackend", "EngineRunner", "TRT_TO_TORCH", "torch_dtype", "layer_stage", "StageTimes",
           "onnx_at_hand", "profile_for", "pad_batch", "batch_bucket", "resolve_engine", "cuda_device"]

#: serialised engine files (anything else that is not an .onnx is taken for a checkpoint)
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


# -- engine selection (files, no TensorRT) ------------------------------------------------------------------
def onnx_at_hand(engine_path: Path, sidecar: EngineSidecar) -> Path | None:
    """The engine's source ONNX if it is still here, unchanged: the path recorded at build time, or a
    same-named .onnx beside the engine, whose sha256 matches the sidecar's."""
    for candidate in (Path(sidecar.onnx_path) if sidecar.onnx_path else None, engine_path.with_suffix(".onnx")):
        if candidate is not None and candidate.is_file() and file_sha256(candidate) == sidecar.onnx_sha256:
            return candidate
    return None


def profile_for(batch: BatchProfile | str | None, max_batch: int | None) -> BatchProfile:
    """The profile to build: `batch` if given, else 1..max_batch around the default opt, else the default."""
    if batch is not None:
        return batch if isinstance(batch, BatchProfile) else parse_profile(batch)
    if max_batch is not None:
        return BatchProfile(1, min(DEFAULT_PROFILE.opt, max_batch), max_batch)
    return DEFAULT_PROFILE


# -- the backend ------------------------------------------------------------------------------------------------
class TensorRTBackend(Backend):
    name = "tensorrt"
    suffixes = (".engine", ".onnx")
    #: what a strongly typed engine can be; which one is the ONNX's (or the engine's) to say, not a flag's
    precisions = {"cuda": ("fp16", "fp32", "int8")}

    @classmethod
    def available(cls, device: str | torch.device | None = None) -> Availability:
        if device is not None and torch.device(device).type != "cuda":
            return Availability(False, f"TensorRT runs on CUDA devices, not {torch.device(device)}")
        try:
            trt = import_tensorrt()
        except TensorRTMissing as e:
            return Availability(False, str(e))
        too_old = tensorrt_too_old(trt.__version__)
        if too_old:
            return Availability(False, too_old)
        if not torch.cuda.is_available():
            return Availability(False, "no CUDA device visible to torch (a CPU-only torch build, or no driver)")
        return Availability(True)

    @classmethod
    def precisions_for(cls, path: Path, device: torch.device) -> tuple[str, ...]:
        """An .onnx or .engine runs at the precision it holds; a checkpoint is exported at FP16 or FP32 (its
        INT8 export has asymmetric Q/DQ, which TensorRT refuses)."""
        if device.type != "cuda":
            return ()
        path = Path(path)
        try:
            if path.suffix == ".onnx":
                held = onnx_precision(path)
            elif path.suffix in ENGINE_SUFFIXES:
                held = read_sidecar(path).precision
            else:
                return ("fp16", "fp32")
        except (BackendUnavailable, SidecarError):
            return ()
        return (held,) if held in cls.precisions["cuda"] else ()

    @classmethod
    def load(cls, path: Path, *, device: str | torch.device | None = None, precision: str | None = None,
             max_batch: int | None = None, batch: BatchProfile | str | None = None, cuda_graphs: bool = True,
             workspace_mib: int = 1024, **options) -> "TensorRTBackend":
        """Open an .engine (checked against its sidecar; rebuilt from its ONNX when this machine differs
        and the ONNX is at hand), an .onnx (built once into the engine cache with profile `batch`) or a
        checkpoint (exported once into the ONNX cache at `precision`, FP16 by default, then built)."""
        if options:  # auto() hands every backend the same options; say which ones TensorRT does not use
            warnings.warn(f"TensorRT backend ignores options {sorted(options)}", stacklevel=2)
        ok = cls.available(device)
        if not ok.ok:
            raise BackendUnavailable(ok.reason)
        trt = import_tensorrt()
        dev = cuda_device(device)
        if precision is not None:
            cls.resolve_precision(dev, precision)  # a name TensorRT can hold; the file must then match it
        path = Path(path)
        if path.suffix != ".onnx" and path.suffix not in ENGINE_SUFFIXES:  # a checkpoint: as onnxruntime does
            path, _ = onnx_for(path, precision or cls.precisions["cuda"][0])
        engine, sidecar = resolve_engine(trt, path, dev, precision=precision, max_batch=max_batch,
                                         batch=batch, workspace_mib=workspace_mib)
        return cls(EngineRunner(trt, engine, dev, cuda_graphs=cuda_graphs), sidecar, max_batch=max_batch)

    def __init__(self, runner: EngineRunner, sidecar: EngineSidecar, *, max_batch: int | None = None):
        try:
            config = ModelConfig.from_dict(sidecar.model)
        except (TypeError, ValueError) as e:
            raise BackendUnavailable(f"engine sidecar: model config unreadable ({e})") from None
        problems = check_io(sidecar.io, runner.specs)
        if problems:
            raise BackendUnavailable("the engine and its sidecar disagree: " + "; ".join(problems))
        names = [s.name for s in runner.inputs]
        outputs = {s.name for s in runner.specs if s.mode == "output"}
        if len(names) != 1 or not set(Outputs._fields) <= outputs:
            raise BackendUnavailable(f"the engine takes {names} and gives {sorted(outputs)}; the backend needs one "
                                     f"input (crops) and outputs {list(Outputs._fields)}: build it from an ONNX "
                                     f"exported without --xyz")
        self.runner, self.sidecar, self.input_name = runner, sidecar, names[0]
        hi = runner.batch_range[1]
        super().__init__(config, runner.device, sidecar.precision, hi if max_batch is None else min(max_batch, hi))

    def _infer(self, crops: torch.Tensor) -> Outputs:
        out = self.runner.run({self.input_name: crops})
        return Outputs(*(out[name] for name in Outputs._fields))

    def stage_times(self, crops: torch.Tensor, iters: int = 50, warmup: int = 5) -> dict[str, float]:
        """Mean ms per call of each network stage (lfsdk.stages) from TensorRT's per-layer profiler; a batch
        over max_batch is timed in the chunks __call__ would run, and their stage times added."""
        total: dict[str, float] = {}
        for chunk in self.check_crops(crops).split(self.max_batch):
            for stage, ms in self.runner.stage_times({self.input_name: chunk.contiguous()}, iters, warmup).items():
                total[stage] = total.get(stage, 0.0) + ms
        return total


def cuda_device(device: str | torch.device | None) -> torch.device:
    """`device` as an indexed CUDA device ("cuda" → the current one)."""
    dev = torch.device(device if device is not None else "cuda")
    if dev.type != "cuda":
        raise BackendUnavailable(f"TensorRT runs on CUDA devices, not {dev}")
    return torch.device("cuda", dev.index if dev.index is not None else torch.cuda.current_device())


# -- engine resolution (TensorRT only through build_engine) ------------------------------------------------------
def resolve_engine(trt, path: Path, device: torch.device, *, precision: str | None = None,
                   max_batch: int | None = None, batch: BatchProfile | str | None = None,
                   workspace_mib: int = 1024) -> tuple[Path, EngineSidecar]:
    """The engine to load for `path` on this machine: an .engine whose sidecar fits (else rebuilt from its
    ONNX when at hand, else BackendUnavailable), or the cached engine of an .onnx (built when missing)."""
    machine = MachineInfo.current(trt.__version__, device)
    if path.suffix == ".onnx":
        return _engine_from_onnx(path, machine, precision, profile_for(batch, max_batch), workspace_mib, device)
    if path.suffix in ENGINE_SUFFIXES:
        return _checked_engine(path, machine, precision, workspace_mib, device)
    raise BackendUnavailable(f"{path}: TensorRT loads an .engine or builds from an .onnx (export one with "
                             f"lfsdk-export)")


def _fatal(sidecar: EngineSidecar, machine: MachineInfo, precision: str | None, engine_sha256: str | None):
    return [m for m in check_sidecar(sidecar, machine, engine_sha256=engine_sha256, precision=precision,
                                     lfsdk_version=__version__) if m.fatal]


def _engine_from_onnx(onnx: Path, machine: MachineInfo, precision: str | None, profile: BatchProfile,
                      workspace_mib: int, device: torch.device) -> tuple[Path, EngineSidecar]:
    """The cached engine for this ONNX, machine, precision and profile; built now if missing or stale."""
    try:
        info = inspect_onnx(onnx)
    except (FileNotFoundError, ValueError) as e:
        raise BackendUnavailable(str(e)) from None
    if info.asymmetric_qdq:  # TensorRT would refuse it; let auto() move on before a build is attempted
        raise BackendUnavailable(f"{onnx}: TensorRT takes only symmetric INT8 Q/DQ; {len(info.asymmetric_qdq)} "
                                 f"node(s) have uint8 or non-zero zero points (e.g. {info.asymmetric_qdq[0]!r})")
    if precision is not None and precision != info.precision:
        raise BackendUnavailable(f"{onnx} is an {info.precision} model and TensorRT builds it strongly typed, as "
                                 f"the ONNX says; for {precision} export that precision (lfsdk-export --{precision})")
    target = engine_cache_path(info.sha256, machine, info.precision, profile)
    if target.is_file():
        try:
            sidecar = read_sidecar(target)
            if not _fatal(sidecar, machine, precision, file_sha256(target)):
                return target, sidecar
        except SidecarError:
            pass  # a half-written or foreign cache entry: rebuild over it
    print(f"lfsdk: building a TensorRT engine for {onnx.name} once, cached as {target}", file=sys.stderr)
    config = BuildConfig(profile=profile, workspace_mib=workspace_mib, progress=sys.stderr.isatty())
    try:
        return target, build_engine(onnx, target, config, device=device, log=lambda m: print(m, file=sys.stderr))
    except OnnxParseError as e:  # a graph TensorRT cannot take: say which nodes, and let auto() move on
        raise BackendUnavailable(str(e)) from None


def _checked_engine(path: Path, machine: MachineInfo, precision: str | None, workspace_mib: int,
                    device: torch.device) -> tuple[Path, EngineSidecar]:
    """`path` if its sidecar matches this machine; else the engine rebuilt from its ONNX; else a clear error."""
    if not path.is_file():
        raise BackendUnavailable(f"{path}: no such engine file")
    try:
        sidecar = read_sidecar(path)
    except SidecarError as e:
        raise BackendUnavailable(str(e)) from None
    mismatches = _fatal(sidecar, machine, precision, file_sha256(path))
    if not mismatches:
        return path, sidecar
    why = "; ".join(map(str, mismatches))
    if any(m.field == "precision" for m in mismatches):
        raise BackendUnavailable(f"{path}: {why} (a rebuild from the same ONNX cannot change precision)")
    source = onnx_at_hand(path, sidecar)
    if source is None:
        raise BackendUnavailable(
            f"{path} does not fit this machine ({machine.describe()}): {why}; its source ONNX (sha256 "
            f"{sidecar.onnx_sha256[:12]}…) is not at hand to rebuild from: lfsdk-build MODEL.onnx -o {path}")
    print(f"lfsdk: {path}: {why}; rebuilding from {source}", file=sys.stderr)
    return _engine_from_onnx(source, machine, precision, sidecar.profile, workspace_mib, device)
