"""EngineRunner: a TensorRT engine run by tensor name on torch CUDA tensors — per-shape execution contexts,
I/O buffers and CUDA graphs (an LRU of a few, batches padded to power-of-two buckets), one shared scratch
allocation, execute_async_v3 on a torch.cuda.Stream. The backend (tensorrt.py) is a thin layer over it."""
from __future__ import annotations

import sys
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from .base import BackendUnavailable
from .tensorrt_build import io_specs
from .tensorrt_layers import StageTimes, profiler, torch_dtype

__all__ = ["EngineRunner", "pad_batch", "batch_bucket"]


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
            slot.context.profiler = profiler(self._trt, times)  # enqueue_emits_profile (default True): reported at each enqueue
            for _ in range(iters):
                self._enqueue(slot)
            self.stream.synchronize()
        if times.unmapped:
            print(f"lfsdk: {len(times.unmapped)} TensorRT layer(s) carry no module path, counted as 'other': "
                  f"{sorted(times.unmapped)[:3]}", file=sys.stderr)
        return times.per_run(iters)
