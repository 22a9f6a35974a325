"""Building a TensorRT engine and its sidecar from an exported ONNX (used by the backend and by lfsdk-build).

The network is strongly typed and built from the ONNX parser. There are no FP16/INT8 builder flags:
weak typing is deprecated since TensorRT 10.12 and removed in 11, so the precision is the ONNX's own —
`lfsdk-export --fp16` writes FP16 convolutions with explicit casts that keep the softmax and decode in
FP32, and TensorRT builds exactly that. One optimisation profile covers the batch dimension (min,opt,max);
the timing cache is loaded and saved per GPU and TensorRT version; layer names are kept
(ProfilingVerbosity.DETAILED) so the runtime profiler can sum them into lfsdk.stages.

TensorRT 10 vs 11, as this module and lfsdk/backends/tensorrt.py handle them:
  - network flags: 10 has EXPLICIT_BATCH (deprecated, ignored) and STRONGLY_TYPED (opt-in); 11 removed
    EXPLICIT_BATCH and always types strongly, keeping STRONGLY_TYPED as a no-op → `network_flags`.
  - BuilderFlag.FP16/BF16/INT8/FP8/... and OBEY/PREFER_PRECISION_CONSTRAINTS: deprecated in 10.12, removed
    in 11 → never used; the ONNX carries the types.
  - ICudaEngine.device_memory_size and create_execution_context_without_device_memory: removed in 11 →
    device_memory_size_v2 + ExecutionContextAllocationStrategy.USER_MANAGED + set_device_memory(ptr, size).
  - get_binding_* / execute_async_v2 (gone since 10) → named tensors and execute_async_v3 on both.
  - IStreamReader (v1) removed in 11 → engines are deserialised from bytes.
  - trtexec: --stronglyTyped is a switch on 10 and an accepted no-op on 11; --fp16/--int8 are gone in 11.
  Unchanged across 10.8 … 11.x: OnnxParser.parse_from_file / get_error (node(), node_name(), ...),
  IProgressMonitor (phase_start/step_complete/phase_finish), IProfiler.report_layer_time, timing caches
  (create/set/get_timing_cache), set_memory_pool_limit, ProfilingVerbosity.DETAILED, optimisation profiles,
  build_serialized_network, Runtime.deserialize_cuda_engine, set_input_shape, set_tensor_address.

References (read for TensorRT 10.0, 10.8, 10.16 and 11.1 in NVIDIA/TensorRT's Python bindings
python/src/infer/pyCore.cpp and python/src/parsers/pyOnnx.cpp, the docstrings in
python/docstrings/infer/pyCoreDoc.h, samples/python/simple_progress_monitor, samples/common/sampleOptions.cpp,
and docs.nvidia.com/deeplearning/tensorrt/latest/api/migration/tensorrt-10x-to-11x-python-api-reference.html).
"""
from __future__ import annotations

import hashlib
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Mapping, Sequence

import torch

from .._version import __version__
from ..engine_cache import (
    DEFAULT_PROFILE, BatchProfile, EngineSidecar, IOSpec, MachineInfo, atomic_write, import_tensorrt,
    tensorrt_too_old, timing_cache_path, write_sidecar,
)
from ..model.onnx_metadata import read_onnx_config
from .onnx_info import OnnxParseError, UnsupportedOnnx, inspect_onnx

__all__ = ["BuildConfig", "BuildProgress", "build_engine", "format_parser_errors", "io_specs", "network_flags",
           "trtexec_command"]


@dataclass(frozen=True)
class BuildConfig:
    """How to build; stored in no file of its own, its parts land in the sidecar."""

    profile: BatchProfile = DEFAULT_PROFILE
    workspace_mib: int = 1024
    #: None: the per-GPU cache under lfsdk's cache dir; "": no timing cache; else this file
    timing_cache: str | None = None
    progress: bool = True
    verbose: bool = False

    def __post_init__(self):
        if not isinstance(self.workspace_mib, int) or self.workspace_mib < 1:
            raise ValueError(f"workspace must be a positive number of MiB, got {self.workspace_mib!r}")

    def to_dict(self) -> dict:
        return {**asdict(self), "profile": str(self.profile)}


def trtexec_command(onnx: str | Path, engine: str | Path, batched: Mapping[str, Sequence[int]],
                    config: BuildConfig, timing_cache: str | Path | None) -> list[str]:
    """The trtexec call that builds the same engine, for users who want to compare. `batched`: input name →
    dims after the batch, for every input with a dynamic batch (OnnxInfo.batched_inputs()).

    --stronglyTyped is a real switch on TensorRT 10 and an accepted no-op on 11 (always strongly typed);
    --memPoolSize's unit without a suffix is MiB (samples/common/sampleOptions.cpp).
    """
    if not batched:
        raise ValueError("trtexec_command needs at least one input with a dynamic batch")

    def spec(batch: int) -> str:
        return ",".join(f"{name}:" + "x".join(str(d) for d in (batch, *dims)) for name, dims in batched.items())

    p = config.profile
    cmd = ["trtexec", f"--onnx={onnx}", f"--saveEngine={engine}", "--stronglyTyped",
           f"--minShapes={spec(p.min)}", f"--optShapes={spec(p.opt)}", f"--maxShapes={spec(p.max)}",
           f"--memPoolSize=workspace:{config.workspace_mib}M", "--profilingVerbosity=detailed", "--skipInference"]
    if timing_cache:
        cmd.append(f"--timingCacheFile={timing_cache}")
    return cmd


def format_parser_errors(parser, onnx_path: str | Path) -> str:
    """One line per parser error with the ONNX node index, name and operator (IParserError.node(),
    .node_name(), .node_operator(), .desc(), .code(); TensorRT ≥ 10.0)."""
    lines = [f"{onnx_path}: TensorRT's ONNX parser failed with {parser.num_errors} error(s):"]
    for i in range(parser.num_errors):
        e = parser.get_error(i)
        where = f"node {e.node()} {e.node_name()!r} ({e.node_operator()})" if e.node() >= 0 else "model"
        lines.append(f"  {where}: {e.desc()} [{e.code()}]")
    return "\n".join(lines)


# -- progress -------------------------------------------------------------------------------------------------
class BuildProgress:
    """tqdm bars for the builder's phases, nested under their parent phase; fed by TensorRT's
    IProgressMonitor callbacks, which may come from several builder threads (hence the lock).
    Ctrl-C inside a callback cancels the build (step_complete returns False), as the TensorRT sample does."""

    def __init__(self, file=None, disable: bool = False):
        self._file = file if file is not None else sys.stderr
        self._disable = disable
        self._bars: dict[str, object] = {}
        self._lock = threading.Lock()
        self.cancelled = False

    def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
        from tqdm import tqdm

        try:
            with self._lock:
                depth = len(self._bars)
                self._bars[phase_name] = tqdm(total=num_steps, desc=phase_name, position=depth, leave=depth == 0,
                                              file=self._file, disable=self._disable, dynamic_ncols=True)
        except KeyboardInterrupt:  # cannot cancel from here; step_complete will
            self.cancelled = True

    def step_complete(self, phase_name: str, step: int) -> bool:
        try:
            with self._lock:
                bar = self._bars.get(phase_name)
                if bar is not None:
                    bar.update(step + 1 - bar.n)  # step counts from 0 and only increases
            return not self.cancelled
        except KeyboardInterrupt:
            self.cancelled = True
            return False

    def phase_finish(self, phase_name: str) -> None:
        try:
            with self._lock:
                bar = self._bars.pop(phase_name, None)
                if bar is not None:
                    bar.close()
        except KeyboardInterrupt:
            self.cancelled = True


def _progress_monitor(trt: ModuleType, progress: BuildProgress):
    """A trt.IProgressMonitor forwarding to `progress` (the base __init__ must be called explicitly)."""

    class ProgressMonitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name, parent_phase, num_steps):
            progress.phase_start(phase_name, parent_phase, num_steps)

        def step_complete(self, phase_name, step):
            return progress.step_complete(phase_name, step)

        def phase_finish(self, phase_name):
            progress.phase_finish(phase_name)

    return ProgressMonitor()


# -- TensorRT (thin) ----------------------------------------------------------------------------------------------
def network_flags(trt: ModuleType) -> int:
    """create_network flags for a strongly typed, explicit-batch network on TensorRT 10 and 11.

    TensorRT 10: explicit batch is the only mode (EXPLICIT_BATCH is deprecated and ignored), STRONGLY_TYPED
    must be asked for. TensorRT 11: EXPLICIT_BATCH is removed and strong typing is always on; STRONGLY_TYPED
    is still exposed (deprecated, no-op), so setting it when present is right on both.
    """
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 0 if flag is None else 1 << int(flag)


def io_specs(trt: ModuleType, engine) -> tuple[IOSpec, ...]:
    """The engine's named I/O tensors with shape and dtype as the engine reports them."""
    specs = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        mode = "input" if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT else "output"
        specs.append(IOSpec(name, mode, tuple(engine.get_tensor_shape(name)), engine.get_tensor_dtype(name).name))
    return tuple(specs)


def _load_timing_cache(trt: ModuleType, builder_config, path: Path | None, log) -> object | None:
    if path is None:
        return None
    data = b""
    if path.is_file():
        data = path.read_bytes()
    cache = builder_config.create_timing_cache(data)
    if cache is None and data:  # unreadable: start afresh rather than fail the build
        log(f"lfsdk-build: timing cache {path} is unreadable; starting a new one")
        cache = builder_config.create_timing_cache(b"")
    # ignore_mismatch=False: a cache from another device is refused (set_timing_cache returns False)
    if cache is not None and not builder_config.set_timing_cache(cache, False):
        log(f"lfsdk-build: timing cache {path} belongs to another GPU or TensorRT; starting a new one")
        cache = builder_config.create_timing_cache(b"")
        builder_config.set_timing_cache(cache, False)
    return cache


def build_engine(onnx_path: str | Path, engine_path: str | Path, config: BuildConfig = BuildConfig(), *,
                 device=None, log=print) -> EngineSidecar:
    """Build `engine_path` (+ its sidecar) from `onnx_path` on `device` (default: the current CUDA device);
    returns the sidecar."""
    trt = import_tensorrt()
    too_old = tensorrt_too_old(trt.__version__)
    if too_old:
        raise RuntimeError(too_old)
    if not torch.cuda.is_available():
        raise RuntimeError("building a TensorRT engine needs a CUDA GPU, and torch sees none")
    index = torch.device(device).index if device is not None else None
    with torch.cuda.device(torch.cuda.current_device() if index is None else index):  # TensorRT builds there
        return _build(trt, Path(onnx_path), Path(engine_path), config, device, log)


def _build(trt: ModuleType, onnx_path: Path, engine_path: Path, config: BuildConfig, device, log) -> EngineSidecar:
    info = inspect_onnx(onnx_path)
    if info.asymmetric_qdq:
        raise UnsupportedOnnx(f"{info.path}: TensorRT takes only symmetric INT8 Q/DQ (zero point 0), and "
                              f"{len(info.asymmetric_qdq)} node(s) have uint8 or non-zero zero points, e.g. "
                              f"{info.asymmetric_qdq[0]!r}; quantise activations as QInt8, symmetric")
    model_config = read_onnx_config(info.path)
    machine = MachineInfo.current(trt.__version__, device)

    logger = trt.Logger(trt.Logger.VERBOSE if config.verbose else trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    # parse_from_file, not parse(bytes): it resolves external-data files relative to the model
    if not parser.parse_from_file(str(info.path)):
        raise OnnxParseError(format_parser_errors(parser, info.path))
    batched = info.batched_inputs()
    for i in range(network.num_inputs):  # the ONNX and TensorRT must agree on which inputs are batched
        inp = network.get_input(i)
        shape = tuple(inp.shape)
        if (shape[:1] == (-1,)) != (inp.name in batched) or min(shape[1:], default=1) < 0:
            raise ValueError(f"{info.path}: TensorRT sees input {inp.name!r} as {list(shape)}; only a leading "
                             f"batch dimension may be dynamic")
    bconf = builder.create_builder_config()
    bconf.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, config.workspace_mib << 20)
    bconf.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # keep layer names for the profiler
    profile = builder.create_optimization_profile()
    for name, dims in batched.items():
        profile.set_shape(name, *config.profile.shapes(dims))
    if bconf.add_optimization_profile(profile) < 0:
        raise ValueError(f"TensorRT rejected the batch profile {config.profile} for {sorted(batched)}")
    cache_file = (None if config.timing_cache == "" else
                  Path(config.timing_cache) if config.timing_cache else timing_cache_path(machine))
    _load_timing_cache(trt, bconf, cache_file, log)
    progress = BuildProgress(disable=not config.progress)
    bconf.progress_monitor = _progress_monitor(trt, progress)

    log(f"lfsdk-build: {info.path.name} ({info.precision}, strongly typed) → {engine_path}, "
        f"batch {config.profile}, {machine.describe()}")
    plan = builder.build_serialized_network(network, bconf)
    if progress.cancelled:
        raise KeyboardInterrupt
    if plan is None:
        raise RuntimeError(f"TensorRT could not build {info.path} (see its log above)")
    data = bytes(memoryview(plan))
    if cache_file is not None:
        atomic_write(cache_file, bytes(memoryview(bconf.get_timing_cache().serialize())))

    engine = trt.Runtime(logger).deserialize_cuda_engine(data)
    if engine is None:
        raise RuntimeError("TensorRT built an engine it cannot deserialise (see its log above)")
    sidecar = EngineSidecar(
        tensorrt_version=machine.tensorrt_version, gpu_name=machine.gpu_name,
        compute_capability=machine.compute_capability, precision=info.precision, profile=config.profile,
        onnx_sha256=info.sha256, engine_sha256=hashlib.sha256(data).hexdigest(), lfsdk_version=__version__,
        io=io_specs(trt, engine), model=model_config.to_dict(), onnx_path=str(info.path.resolve()),
        workspace_mib=config.workspace_mib)
    atomic_write(engine_path, data)
    write_sidecar(engine_path, sidecar)
    return sidecar
