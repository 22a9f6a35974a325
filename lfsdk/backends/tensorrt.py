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
split by Backend.__call__ (max_batch is the profile max). EngineRunner is the name-based core; the backend
and export.parity's TensorRT runner are thin layers over it.

Nothing here imports tensorrt at module import; the pure parts (dtype map, layer → stage, stage sums,
graph bookkeeping) are tested without it. API: TensorRT ≥ 10.8 and 11.x (python/src/infer/pyCore.cpp).
"""
from __future__ import annotations

import re
import sys
import warnings
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..engine_cache import (
    DEFAULT_PROFILE, BatchProfile, EngineSidecar, MachineInfo, SidecarError, TensorRTMissing, check_io,
    check_sidecar, engine_cache_path, import_tensorrt, parse_profile, read_sidecar, tensorrt_too_old,
)
from ..model.checkpoint import file_sha256
from ..model.network import ModelConfig
from ..stages import NETWORK_STAGES, stage_of
from .base import Availability, Backend, BackendUnavailable, Outputs
from .onnx_file import onnx_for, onnx_precision

__all__ = ["TensorRTBackend", "EngineRunner", "TRT_TO_TORCH", "torch_dtype", "layer_stage", "StageTimes",
           "onnx_at_hand", "profile_for", "pad_batch", "batch_bucket", "resolve_engine", "cuda_device"]

#: serialised engine files (anything else that is not an .onnx is taken for a checkpoint)
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
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


def _profiler(trt, sink: StageTimes):
    class Profiler(trt.IProfiler):  # the base __init__ must be called explicitly (IProfiler docs)
        def __init__(self):
            trt.IProfiler.__init__(self)

        def report_layer_time(self, layer_name, ms):
            sink.add(layer_name, ms)

    return Profiler()


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


def pad_batch(t: torch.Tensor, n: int) -> torch.Tensor:
    """`t` (b, ...) grown to n rows by repeating its last row: below the profile's min the engine cannot
    run b rows, and repeated real rows keep every padded row finite (their outputs are dropped)."""
    b = t.shape[0]
    return t if b >= n else torch.cat([t, t[-1:].expand(n - b, *t.shape[1:])])


def batch_bucket(b: int, lo: int, hi: int) -> int:
    """The batch a run of b rows (1 ≤ b ≤ hi) is padded to: the next power of two, kept inside the profile
    [lo, hi]. At most ⌈log2 hi⌉ + 1 shapes, whatever the hand count, at under twice the rows."""
    return min(max(1 << (b - 1).bit_length(), lo), hi)


@dataclass
class _Slot:
    """One set of input shapes: its execution context, its I/O buffers (by tensor name) and, once
    captured, its CUDA graph with the buffer addresses it was captured with."""

    key: tuple
    context: object
    tensors: dict
    graph: object = None
    graph_addresses: tuple = ()
    capture_failed: bool = False

    def addresses(self) -> tuple:
        return tuple((name, t.data_ptr()) for name, t in self.tensors.items())

    def replayable(self) -> bool:
        """A graph exists and was captured with the buffers bound now; otherwise it must be (re)captured."""
        return self.graph is not None and self.graph_addresses == self.addresses()


class EngineRunner:
    """A deserialised engine run by tensor name on torch CUDA tensors: run({name: tensor}) → {name: tensor}.

    Names, shapes and dtypes all come from the engine. Inputs whose first dim is dynamic share the batch
    dimension of the engine's optimisation profile 0; their batch must lie in `batch_range` (rows below the
    min are padded, and with `buckets` rounded up by batch_bucket). Outputs come back as new tensors (float
    outputs as float32) on the caller's stream.
    """

    #: per-shape slots (context, buffers, CUDA graph) kept, least recently used dropped first
    max_slots = 8
    #: pad batches up to batch_bucket sizes (False: one slot per distinct batch size)
    buckets = True

    def __init__(self, trt, engine_path: Path, device: torch.device, *, cuda_graphs: bool = True):
        from lfsdk.export.tensorrt import io_specs

        self._trt, self.device, self.cuda_graphs = trt, device, cuda_graphs
        with torch.cuda.device(device):
            self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
            self.engine = self._runtime.deserialize_cuda_engine(engine_path.read_bytes())
            if self.engine is None:
                raise BackendUnavailable(f"{engine_path}: TensorRT could not deserialise it (see its log above)")
            self.specs = io_specs(trt, self.engine)
            self.inputs = [s for s in self.specs if s.mode == "input"]
            self.batched = {s.name for s in self.specs if s.shape[:1] == (-1,)}
            ranges = {tuple(d[0] for d in self.engine.get_tensor_profile_shape(s.name, 0)[::2])
                      for s in self.inputs if s.name in self.batched}
            if len(ranges) > 1:
                raise BackendUnavailable(f"{engine_path}: inputs have different batch ranges {sorted(ranges)}")
            self.batch_range = ranges.pop() if ranges else (1, 1)
            self.stream = torch.cuda.Stream(device)
            # one scratch area for every context (device_memory_size_v2: TensorRT ≥ 10.1; v1 is gone in 11)
            self._scratch = torch.empty(max(int(self.engine.device_memory_size_v2), 1), dtype=torch.uint8,
                                        device=device)
        self._slots: OrderedDict[tuple, _Slot] = OrderedDict()

    def _new_slot(self, shapes: dict[str, tuple]) -> _Slot:
        trt = self._trt
        # USER_MANAGED + set_device_memory(ptr, size): the v2 API (10.1+); 11 removed the v1 calls
        # (create_execution_context_without_device_memory, device_memory_size). torch's allocator gives the
        # 256-byte alignment TensorRT asks for. Every context uses profile 0: sharing a profile across
        # contexts is on by default since 10.0 (PreviewFeature.PROFILE_SHARING_0806) and always in 11.
        context = self.engine.create_execution_context(trt.ExecutionContextAllocationStrategy.USER_MANAGED)
        if context is None:
            raise RuntimeError("TensorRT could not create an execution context (see its log above)")
        context.set_device_memory(self._scratch.data_ptr(), self._scratch.numel())
        for name, shape in shapes.items():
            if not context.set_input_shape(name, shape):
                raise RuntimeError(f"TensorRT refused shape {shape} for input {name!r}")
        tensors = {}
        for spec in self.specs:
            shape = tuple(context.get_tensor_shape(spec.name))
            if min(shape, default=0) < 0:
                raise RuntimeError(f"TensorRT left {spec.name!r} with an unresolved shape {shape}")
            tensors[spec.name] = torch.empty(shape, dtype=torch_dtype(spec.dtype), device=self.device)
            if not context.set_tensor_address(spec.name, tensors[spec.name].data_ptr()):
                raise RuntimeError(f"TensorRT refused the buffer for {spec.name!r}")
        return _Slot(tuple(shapes.items()), context, tensors)

    def _enqueue(self, slot: _Slot) -> None:
        if not slot.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError(f"TensorRT execute_async_v3 failed for {dict(slot.key)} (see its log above)")

    def _capture(self, slot: _Slot) -> None:
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
                self._enqueue(slot)
        except RuntimeError as e:  # some engines cannot be captured; plain enqueue still works
            slot.capture_failed = True
            warnings.warn(f"TensorRT: CUDA graph capture failed for {dict(slot.key)}, using plain enqueue ({e})",
                          stacklevel=3)
            return
        slot.graph, slot.graph_addresses = graph, slot.addresses()

    def _prepare(self, feeds: dict[str, torch.Tensor]) -> tuple[int, dict[str, torch.Tensor]]:
        """Check names and batch; return the real batch and the feeds padded to the profile's min."""
        names = {s.name for s in self.inputs}
        if set(feeds) != names:
            raise ValueError(f"the engine takes inputs {sorted(names)}, got {sorted(feeds)}")
        batches = {t.shape[0] for n, t in feeds.items() if n in self.batched}
        if len(batches) > 1:
            raise ValueError(f"batched inputs disagree on the batch size: {sorted(batches)}")
        b = batches.pop() if batches else 1
        lo, hi = self.batch_range
        if not 1 <= b <= hi:
            raise ValueError(f"batch {b} is outside the engine's profile (1..{hi}); split it or rebuild with --batch")
        n = batch_bucket(b, lo, hi) if self.buckets else max(b, lo)
        return b, {k: (pad_batch(t, n) if k in self.batched else t) for k, t in feeds.items()}

    def _slot(self, key: tuple) -> _Slot:
        """The slot for these input shapes: made on first use, then kept in an LRU of `max_slots`."""
        slot = self._slots.get(key)
        if slot is not None:
            self._slots.move_to_end(key)
            return slot
        slot = self._slots[key] = self._new_slot(dict(key))
        while len(self._slots) > self.max_slots:
            self._retire(self._slots.popitem(last=False)[1])
        return slot

    def _retire(self, slot: _Slot) -> None:
        """Wait for a dropped slot's last run before its context, graph and buffers are freed (rare: the
        buckets keep the number of shapes small)."""
        self.stream.synchronize()

    def run(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        b, feeds = self._prepare(feeds)
        caller = torch.cuda.current_stream(self.device)
        with torch.cuda.device(self.device):
            key = tuple((k, tuple(t.shape)) for k, t in sorted(feeds.items()))
            slot = self._slot(key)
            self.stream.wait_stream(caller)  # the feeds were written on the caller's stream
            with torch.cuda.stream(self.stream):
                for name, t in feeds.items():
                    slot.tensors[name].copy_(t)
                    t.record_stream(self.stream)
                if slot.replayable():
                    slot.graph.replay()
                else:
                    self._enqueue(slot)  # the plain enqueue that precedes every capture
                    if self.cuda_graphs and not slot.capture_failed:
                        self._capture(slot)
            caller.wait_stream(self.stream)
            # copies on the caller's stream; the next run waits for them before reusing the buffers
            out = {}
            for spec in self.specs:
                if spec.mode == "output":
                    t = slot.tensors[spec.name]
                    t = t[:b] if spec.name in self.batched else t
                    out[spec.name] = t.to(torch.float32, copy=True) if t.is_floating_point() else t.clone()
            return out

    def stage_times(self, feeds: dict[str, torch.Tensor], iters: int = 50, warmup: int = 5) -> dict[str, float]:
        """Mean ms per run of each network stage from TensorRT's per-layer profiler: plain enqueues on a
        context of its own (a profiler and CUDA graphs do not mix). Layers with no module path → 'other'."""
        if iters < 1:
            raise ValueError(f"iters must be ≥ 1, got {iters}")
        _, feeds = self._prepare(feeds)
        times = StageTimes()
        self.stream.wait_stream(torch.cuda.current_stream(self.device))  # feeds come from the caller's stream
        with torch.cuda.device(self.device), torch.cuda.stream(self.stream):
            slot = self._new_slot({k: tuple(t.shape) for k, t in feeds.items()})
            for name, t in feeds.items():
                slot.tensors[name].copy_(t)
            for _ in range(warmup):
                self._enqueue(slot)
            profiler = _profiler(self._trt, times)
            slot.context.profiler = profiler  # enqueue_emits_profile (default True): reported at each enqueue
            for _ in range(iters):
                self._enqueue(slot)
            self.stream.synchronize()
        if times.unmapped:
            print(f"lfsdk: {len(times.unmapped)} TensorRT layer(s) carry no module path, counted as 'other': "
                  f"{sorted(times.unmapped)[:3]}", file=sys.stderr)
        return times.per_run(iters)


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
    from .. import __version__

    return [m for m in check_sidecar(sidecar, machine, engine_sha256=engine_sha256, precision=precision,
                                     lfsdk_version=__version__) if m.fatal]


def _engine_from_onnx(onnx: Path, machine: MachineInfo, precision: str | None, profile: BatchProfile,
                      workspace_mib: int, device: torch.device) -> tuple[Path, EngineSidecar]:
    """The cached engine for this ONNX, machine, precision and profile; built now if missing or stale."""
    from lfsdk.export.tensorrt import BuildConfig, OnnxParseError, build_engine, inspect_onnx

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
