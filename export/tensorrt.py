"""`lfsdk-build MODEL.onnx -o hand.engine`: a TensorRT engine and its sidecar from an exported ONNX.

    lfsdk-build model_fp16.onnx -o hand.engine --batch 1,32,128 --workspace 1024
    lfsdk-build model_fp16.onnx -o hand.engine --print-trtexec     # the equivalent trtexec line, no build

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

import argparse
import hashlib
import shlex
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Mapping, Sequence

from lfsdk.engine_cache import (
    DEFAULT_PROFILE, BatchProfile, EngineSidecar, IOSpec, MachineInfo, TensorRTMissing, atomic_write,
    import_tensorrt, parse_profile, tensorrt_too_old, timing_cache_path, write_sidecar,
)

__all__ = ["BuildConfig", "OnnxInfo", "OnnxParseError", "UnsupportedOnnx", "asymmetric_qdq", "inspect_onnx", "onnx_precision", "network_flags",
           "format_parser_errors", "trtexec_command", "BuildProgress", "build_engine", "io_specs", "main"]


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


# -- the ONNX side (no TensorRT) ------------------------------------------------------------------------------
class OnnxParseError(RuntimeError):
    """TensorRT's ONNX parser rejected the model; the message names every failing node."""


class UnsupportedOnnx(ValueError):
    """A valid ONNX that TensorRT cannot build, found before spending a build on it."""


@dataclass(frozen=True)
class OnnxInfo:
    path: Path
    sha256: str
    inputs: tuple[tuple[str, tuple], ...]  # (name, dims): an int per static dim, a str/None per dynamic one
    precision: str
    asymmetric_qdq: tuple[str, ...] = ()  # Q/DQ nodes TensorRT refuses (see asymmetric_qdq)

    def batched_inputs(self) -> dict[str, tuple[int, ...]]:
        """name → the static dims after the batch, for every input whose batch (first) dim is dynamic.
        Inputs that are static throughout (the xyz graph's camera) need no profile."""
        out = {}
        for name, dims in self.inputs:
            if not dims or isinstance(dims[0], int):
                continue
            if not all(isinstance(d, int) and d > 0 for d in dims[1:]):
                raise ValueError(f"{self.path}: only the batch dimension may be dynamic; {name} is {list(dims)}")
            out[name] = tuple(dims[1:])
        if not out:
            raise ValueError(f"{self.path}: no input has a dynamic batch dimension (export with a dynamic batch)")
        return out


def onnx_precision(model) -> str:
    """fp32, fp16 or int8: lfsdk-export's `lfsdk.precision` metadata when present, else read from the graph
    itself: Q/DQ nodes → int8; FP16 initializers, casts or I/O → fp16; else fp32."""
    from onnx import TensorProto

    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("lfsdk.precision") in ("fp32", "fp16", "int8"):
        return meta["lfsdk.precision"]
    nodes = list(model.graph.node)
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in nodes):
        return "int8"
    half = TensorProto.FLOAT16
    if any(t.data_type == half for t in model.graph.initializer):
        return "fp16"
    if any(n.op_type == "Cast" and any(a.name == "to" and a.i == half for a in n.attribute) for n in nodes):
        return "fp16"
    if any(v.type.tensor_type.elem_type == half for v in (*model.graph.input, *model.graph.output)):
        return "fp16"
    return "fp32"


def asymmetric_qdq(model) -> tuple[str, ...]:
    """Names of Q/DQ nodes with a uint8 or non-zero zero point. TensorRT only takes symmetric quantisation
    (zero point 0, signed): its parser stops with "Non-zero zero point is not supported" (TensorRT #2774,
    #4698). onnxruntime's quantize_static with QUInt8 activations makes exactly such nodes."""
    from onnx import TensorProto, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    bad = []
    for n in model.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 2 and n.input[2] in inits:
            zp = inits[n.input[2]]
            if zp.data_type == TensorProto.UINT8 or numpy_helper.to_array(zp).any():
                bad.append(n.name or n.output[0])
    return tuple(bad)


def inspect_onnx(path: str | Path) -> OnnxInfo:
    """Input names and shapes, precision and sha256 of an ONNX file (weights are not loaded)."""
    import onnx

    from lfsdk.model.checkpoint import file_sha256

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError / ValueError / OSError depending on the damage
        raise ValueError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    initializers = {t.name for t in model.graph.initializer}
    inputs = tuple((i.name, tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                                  for d in i.type.tensor_type.shape.dim))
                   for i in model.graph.input if i.name not in initializers)
    if not inputs:
        raise ValueError(f"{path}: the graph has no inputs")
    return OnnxInfo(path, file_sha256(path), inputs, onnx_precision(model), asymmetric_qdq(model))


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
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("building a TensorRT engine needs a CUDA GPU, and torch sees none")
    index = torch.device(device).index if device is not None else None
    with torch.cuda.device(torch.cuda.current_device() if index is None else index):  # TensorRT builds there
        return _build(trt, Path(onnx_path), Path(engine_path), config, device, log)


def _build(trt: ModuleType, onnx_path: Path, engine_path: Path, config: BuildConfig, device, log) -> EngineSidecar:
    from lfsdk import __version__

    from .metadata import read_onnx_config

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


# -- parity (export/parity.py) ---------------------------------------------------------------------------------
class TensorRTRunner:
    """export.parity's runner for TensorRT: the engine built once (engine cache) from the ONNX, run by input
    name on the current GPU; numpy in, numpy out. Batches over the profile max are split."""

    def __init__(self, onnx_path: str | Path, precision: str):
        from lfsdk.backends.base import BackendUnavailable
        from lfsdk.backends.tensorrt import EngineRunner, TensorRTBackend, cuda_device, resolve_engine

        from .parity import RunnerUnavailable

        ok = TensorRTBackend.available()
        if not ok.ok:
            raise RunnerUnavailable(ok.reason)
        trt = import_tensorrt()
        try:
            device = cuda_device(None)
            engine, sidecar = resolve_engine(trt, Path(onnx_path), device)
            self.runner = EngineRunner(trt, engine, device)
        except BackendUnavailable as e:  # includes graphs TensorRT cannot build (asymmetric Q/DQ, parse errors)
            raise RunnerUnavailable(str(e)) from None
        self.device, self.precision, self.name = device, precision, f"tensorrt-{sidecar.precision}"

    def __call__(self, inputs: Mapping) -> dict:
        import numpy as np
        import torch

        names = [s.name for s in self.runner.inputs]
        missing = [n for n in names if n not in inputs]
        if missing:
            raise ValueError(f"{self.name}: the engine needs inputs {missing}, got {sorted(inputs)}")
        feeds = {n: torch.from_numpy(np.ascontiguousarray(inputs[n], np.float32)).to(self.device) for n in names}
        batched = [n for n in names if n in self.runner.batched]
        total, step = feeds[batched[0]].shape[0], self.runner.batch_range[1]
        parts = [self.runner.run({n: (t[i:i + step] if n in batched else t) for n, t in feeds.items()})
                 for i in range(0, total, step)]
        torch.cuda.current_stream(self.device).synchronize()
        return {k: torch.cat([p[k] for p in parts]).cpu().numpy() if k in self.runner.batched else
                parts[0][k].cpu().numpy() for k in parts[0]}


def _register_parity_runner() -> None:
    try:
        from .parity import register_runner
    except ModuleNotFoundError as e:  # building engines does not need the parity tooling; a broken parity does
        if e.name != f"{__package__}.parity":
            raise
        return
    register_runner("tensorrt", TensorRTRunner)


_register_parity_runner()


# -- CLI ---------------------------------------------------------------------------------------------------------
def _profile_arg(text: str) -> BatchProfile:
    try:
        return parse_profile(text)
    except ValueError as e:  # argparse would replace a ValueError's message with "invalid value"
        raise argparse.ArgumentTypeError(str(e)) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("onnx", type=Path, help="ONNX from lfsdk-export (use --fp16 there for an FP16 engine)")
    p.add_argument("-o", "--output", type=Path, help="engine file (default: the ONNX path with .engine)")
    p.add_argument("--batch", type=_profile_arg, default=DEFAULT_PROFILE, metavar="MIN,OPT,MAX",
                   help=f"batch optimisation profile, or one static size (default {DEFAULT_PROFILE})")
    p.add_argument("--workspace", type=int, default=BuildConfig.workspace_mib, metavar="MIB",
                   help="builder workspace limit in MiB (default %(default)s)")
    p.add_argument("--timing-cache", metavar="FILE",
                   help="timing cache to load and save (default: one per GPU and TensorRT under $LFSDK_CACHE)")
    p.add_argument("--no-timing-cache", action="store_true", help="build without a timing cache")
    p.add_argument("--print-trtexec", action="store_true",
                   help="print the equivalent trtexec command and exit without building")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="TensorRT's verbose log")


def _default_timing_cache() -> Path | None:
    """This machine's per-GPU timing cache, when TensorRT and a GPU are here to name it."""
    try:
        import torch

        trt = import_tensorrt()
        return timing_cache_path(MachineInfo.current(trt.__version__)) if torch.cuda.is_available() else None
    except TensorRTMissing:
        return None


def run(args: argparse.Namespace) -> int:
    engine = args.output or args.onnx.with_suffix(".engine")
    timing = "" if args.no_timing_cache else args.timing_cache
    config = BuildConfig(profile=args.batch, workspace_mib=args.workspace, timing_cache=timing,
                         progress=not args.no_progress, verbose=args.verbose)
    if args.print_trtexec:  # needs neither TensorRT nor a GPU: a machine with only trtexec can use it
        info = inspect_onnx(args.onnx)
        cache = timing if timing is not None else _default_timing_cache()
        print(shlex.join(trtexec_command(info.path, engine, info.batched_inputs(), config, cache or None)))
        return 0
    sidecar = build_engine(args.onnx, engine, config)
    print(f"wrote {engine} and {engine.name}.json ({sidecar.precision}, batch {sidecar.profile}, "
          f"{sidecar.machine.describe()})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lfsdk-build", description="Build a TensorRT engine from an lfsdk ONNX")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except TensorRTMissing as e:
        print(f"lfsdk-build: {e}", file=sys.stderr)
        return 3
    except (OnnxParseError, ValueError, FileNotFoundError, RuntimeError) as e:  # UnsupportedOnnx is a ValueError
        print(f"lfsdk-build: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lfsdk-build: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
