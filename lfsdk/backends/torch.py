"""PyTorch backend (eager, or torch.compile): checkpoints (dir or .safetensors) only.

CPU: FP32, or BF16 (weights and activations in bfloat16; the network keeps its decode and fusion
normalisation in FP32 by itself). CUDA: FP16 (default) or FP32 with channels_last memory format, and
CUDA-graph replay: one graph per batch size, captured on a side stream after a plain warm-up run, replayed
into static buffers (`cuda_graphs=False` turns it off). FP32 runs in IEEE FP32 (TF32 off, torch_modes.py).
`compile=True` (or a mode in torch_modes.COMPILE_MODES) runs the network through torch.compile (inductor),
compiled on the first call of each of the first two batch sizes, and still captured into the backend's own
CUDA graphs. Per-stage times come from hooks on the network's submodules (`features`, `branches.N`, the rest
is decode+fusion), always on the eager network.
"""
from __future__ import annotations

from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path

import torch

from ..model.checkpoint import CheckpointError, load_model
from ..model.network import LatentFusion
from ..profiling import StageTimer
from .base import Availability, Backend, BackendUnavailable, Outputs, resolve_device
from .torch_modes import compile_mode, compile_network, strict_fp32

__all__ = ["TorchBackend"]

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchBackend(Backend):
    name = "torch"
    suffixes = (".safetensors", "")  # a checkpoint file or directory
    precisions = {"cpu": ("fp32", "bf16"), "cuda": ("fp16", "fp32", "bf16")}
    #: CUDA graphs kept per backend (one per batch size seen), least recently used dropped first
    max_graphs = 8

    def __init__(self, model: LatentFusion, device: torch.device, precision: str, max_batch: int | None,
                 cuda_graphs: bool, compiled: str | None = None):
        super().__init__(model.config, device, precision, max_batch)
        self.dtype = _DTYPES[precision]
        fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
        self.model = model.to(device=device, dtype=self.dtype, memory_format=fmt).eval()
        self.memory_format = fmt
        self.cuda_graphs = cuda_graphs and device.type == "cuda"
        self.compile_mode = compiled  # a torch.compile mode, or None for eager
        self.net = compile_network(self.model, compiled) if compiled else self.model
        self._graphs: OrderedDict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor, Outputs]] = OrderedDict()

    @classmethod
    def available(cls, device: str | torch.device | None = None) -> Availability:
        try:
            dev = resolve_device(device)
        except ValueError as e:
            return Availability(False, str(e))
        if dev.type == "cuda" and not torch.cuda.is_available():
            return Availability(False, f"torch {torch.__version__} sees no CUDA device (install a CUDA build of "
                                       "torch on a machine with an NVIDIA GPU)")
        return Availability(True)

    @classmethod
    def precisions_for(cls, path: Path, device: torch.device) -> tuple[str, ...]:
        """Every precision for a checkpoint; none for an exported file (.onnx, .engine), which torch cannot load."""
        exported = Path(path).suffix in (".onnx", ".engine", ".plan", ".trt")
        return () if exported else super().precisions_for(path, device)

    @classmethod
    def load(cls, path: Path, *, device: str | torch.device | None = None, precision: str | None = None,
             max_batch: int | None = None, cuda_graphs: bool = True, compile: bool | str = False,
             **options) -> "TorchBackend":
        dev = resolve_device(device)
        prec = cls.resolve_precision(dev, precision)
        mode = compile_mode(compile)
        try:
            model = load_model(path)
        except CheckpointError as e:
            raise BackendUnavailable(f"torch loads checkpoints (model.safetensors + config.json): {e}") from None
        return cls(model, dev, prec, max_batch, cuda_graphs, mode)

    def describe(self) -> str:
        compiled = f", torch.compile {self.compile_mode}" if self.compile_mode else ""
        return f"{self.name} ({self.device}, {self.precision}{compiled})"

    def _forward(self, crops: torch.Tensor, net: torch.nn.Module | None = None) -> Outputs:
        x = crops.to(self.dtype).contiguous(memory_format=self.memory_format)
        with strict_fp32() if self.precision == "fp32" else nullcontext():
            out = (self.net if net is None else net)(x)
        return Outputs(*(t.float() for t in out))

    @torch.inference_mode()
    def _infer(self, crops: torch.Tensor) -> Outputs:
        if not self.cuda_graphs:
            return self._forward(crops)
        with torch.cuda.device(self.device):  # graphs, streams and pools on the model's GPU, not the current one
            graph, static_in, static_out = self._graph(crops.shape[0])
            static_in.copy_(crops)
            graph.replay()
            return Outputs(*(t.clone() for t in static_out))  # the next replay overwrites the static outputs

    def _graph(self, b: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, Outputs]:
        """The CUDA graph for batch size b: captured on first use (warm-up on a side stream first, as
        torch.cuda.graphs requires), kept in an LRU of `max_graphs`."""
        if b in self._graphs:
            self._graphs.move_to_end(b)
            return self._graphs[b]
        s = self.input_size
        static_in = torch.zeros(b, 1, s, s, device=self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(2):
                self._forward(static_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self._forward(static_in)
        self._graphs[b] = (graph, static_in, static_out)
        if len(self._graphs) > self.max_graphs:
            self._graphs.popitem(last=False)
        return self._graphs[b]

    @torch.inference_mode()
    def stage_times(self, crops: torch.Tensor, iters: int) -> dict[str, list[float]]:
        """Eager runs with timers around `features` and each branch (CUDA events on the GPU); decode+fusion
        is the rest of the forward pass. Graph replay cannot be split, so this times the eager path."""
        crops = self.check_crops(crops)
        timer = StageTimer(self.device)
        hooks = [self.model.features.register_forward_pre_hook(lambda m, a: timer.start("features")),
                 self.model.features.register_forward_hook(lambda m, a, o: timer.stop("features"))]
        for i, br in enumerate(self.model.branches):
            hooks += [br.register_forward_pre_hook(lambda m, a, i=i: timer.start(f"branch{i}")),
                      br.register_forward_hook(lambda m, a, o, i=i: timer.stop(f"branch{i}"))]
        try:
            self._forward(crops, self.model)  # warm-up, not recorded below
            timer = StageTimer(self.device)
            for _ in range(iters):
                with timer.stage("network"):
                    self._forward(crops, self.model)
        finally:
            for h in hooks:
                h.remove()
        t = timer.times()
        heat = [sum(v) for v in zip(*(t[f"branch{i}"] for i in range(len(self.model.branches))))]
        rest = [n - f - h for n, f, h in zip(t["network"], t["features"], heat)]
        return {"features": t["features"], "heatmaps": heat, "decode+fusion": rest}
