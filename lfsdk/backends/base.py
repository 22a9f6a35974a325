"""The one Backend interface, its registry, and `auto()`.

A backend runs the network from crops to joints in the normalised cube:
    backend(crops: (B, 1, S, S) float) -> Outputs (named tensors on the backend's device)
The public __call__ checks inputs once and splits batches larger than `max_batch`; subclasses implement
`_infer` only (polygraphy's runner pattern). Optional libraries are imported lazily inside each backend's
module, so `import lfsdk` never needs TensorRT, onnxruntime or OpenVINO.

Precision names are shared by all backends: "fp32", "fp16", "bf16", "int8". Each backend lists the ones it
runs per device type in `precisions`; the first one listed is its default there.
"""
from __future__ import annotations

import importlib
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Mapping

import torch

from ..contract import Outputs
from ..model.network import ModelConfig
from .options import BadOption, check_options, load_options

__all__ = ["Outputs", "Availability", "BackendUnavailable", "BadOption", "Backend", "REGISTRY", "AUTO_ORDER",
           "PRECISIONS", "register", "backend_class", "create", "auto", "availability", "resolve_device",
           "check_options"]

PRECISIONS = ("fp32", "fp16", "bf16", "int8")


class BackendUnavailable(RuntimeError):
    """This backend cannot run here (library missing, no GPU, wrong model file); the message says why."""


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def resolve_device(device: str | torch.device | None) -> torch.device:
    """None → the first CUDA device when torch sees one, else the CPU. Unknown strings → ValueError."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise BadOption(f"bad device {device!r}: expected 'cpu', 'cuda' or 'cuda:N' ({e})") from None
    if dev.type not in ("cpu", "cuda"):
        raise BadOption(f"device {device!r} is not supported: expected 'cpu', 'cuda' or 'cuda:N'")
    return dev


class Backend(ABC):
    #: registry name, e.g. "torch"
    name: ClassVar[str]
    #: model-file suffixes this backend loads natively, e.g. (".onnx",)
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: device type → precisions it runs there, the default first
    precisions: ClassVar[Mapping[str, tuple[str, ...]]] = {"cpu": ("fp32",)}

    def __init__(self, config: ModelConfig, device: torch.device, precision: str, max_batch: int | None):
        self.config = config
        self.device = torch.device(device)
        self.precision = precision
        self.max_batch = max_batch

    # -- to implement -------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def available(cls, device: str | torch.device | None = None) -> Availability:
        """Whether this backend can run on `device` here, and if not, why (one line, naming what to install)."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path, *, device: str | torch.device | None = None, precision: str | None = None,
             max_batch: int | None = None, **options) -> "Backend":
        """Open model file `path` (a checkpoint dir/.safetensors, an .onnx or an .engine, as the backend
        supports; raise BackendUnavailable naming the file when it cannot)."""

    @abstractmethod
    def _infer(self, crops: torch.Tensor) -> Outputs:
        """crops (b ≤ max_batch, 1, S, S) float32 on self.device, contiguous → Outputs."""

    @classmethod
    def precisions_for(cls, path: Path, device: torch.device) -> tuple[str, ...]:
        """The precisions this backend can run model file `path` at on `device` (default: every one it runs
        there; backends whose files fix the precision, such as an .onnx, narrow it)."""
        return tuple(cls.precisions.get(device.type, ()))

    def stage_times(self, crops: torch.Tensor, iters: int) -> dict[str, list[float] | float]:
        """Per-network-stage durations over `iters` calls on `crops`, keyed by lfsdk.stages names: a list of
        ms (one per call) or, for profilers that only report totals, the mean ms per call. {} for backends
        that cannot split the network's time (the default)."""
        return {}

    # -- shared ----------------------------------------------------------------------------------------
    @classmethod
    def resolve_precision(cls, device: torch.device, precision: str | None) -> str:
        """The precision to run: `precision`, checked against what this backend runs on `device`, or its
        default there. Raises BackendUnavailable when it does not run that precision there."""
        supported = cls.precisions.get(device.type, ())
        if precision is None:
            if not supported:
                raise BackendUnavailable(f"backend {cls.name!r} does not run on {device.type}")
            return supported[0]
        if precision not in PRECISIONS:
            raise BadOption(f"unknown precision {precision!r}: expected one of {PRECISIONS}")
        if precision not in supported:
            raise BackendUnavailable(f"backend {cls.name!r} runs {list(supported) or 'nothing'} on {device.type}, "
                                     f"not {precision!r}")
        return precision

    @property
    def input_size(self) -> int:
        return self.config.input_size

    def check_crops(self, crops: torch.Tensor) -> torch.Tensor:
        """Validate (B, 1, S, S) floating crops; → float32 contiguous on self.device."""
        s = self.input_size
        if not isinstance(crops, torch.Tensor):
            raise TypeError(f"crops must be a torch.Tensor (B, 1, {s}, {s}), got {type(crops).__name__}")
        if crops.dim() != 4 or tuple(crops.shape[1:]) != (1, s, s):
            raise ValueError(f"crops must be (B, 1, {s}, {s}), got {tuple(crops.shape)}")
        if crops.shape[0] == 0:
            raise ValueError("crops is an empty batch (B = 0)")
        if not crops.is_floating_point():
            raise ValueError(f"crops must be floating point (normalised depth in [-1, 1]), got {crops.dtype}")
        return crops.detach().to(self.device, torch.float32).contiguous()  # backends hand numpy views out

    def __call__(self, crops: torch.Tensor) -> Outputs:
        crops = self.check_crops(crops)
        n = self.max_batch or crops.shape[0]
        if crops.shape[0] <= n:
            return self._infer(crops)
        parts = [self._infer(chunk.contiguous()) for chunk in crops.split(n)]
        return Outputs(*(torch.cat(t) for t in zip(*parts)))

    def describe(self) -> str:
        """One line for tables and logs."""
        return f"{self.name} ({self.device}, {self.precision})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.device}, precision={self.precision!r}, max_batch={self.max_batch})"


#: name → "module:Class"; the module is imported only when the backend is asked for.
REGISTRY: dict[str, str] = {
    "tensorrt": "lfsdk.backends.tensorrt:TensorRTBackend",
    "torch": "lfsdk.backends.torch:TorchBackend",
    "onnxruntime": "lfsdk.backends.onnxruntime:OnnxRuntimeBackend",
    "openvino": "lfsdk.backends.openvino:OpenVINOBackend",
}
#: device type → the order auto() tries. On CUDA: TensorRT, then torch (FP16, CUDA graphs), then
#: onnxruntime's CUDA provider. On the CPU, by measurement (benchmarks/bench_cpu_backends.py, README):
#: OpenVINO (BF16 where the CPU has it) > onnxruntime FP32 > torch eager, so torch CPU comes last.
AUTO_ORDER: dict[str, tuple[str, ...]] = {
    "cuda": ("tensorrt", "torch", "onnxruntime"),
    "cpu": ("openvino", "onnxruntime", "torch"),
}


def register(name: str, target: str) -> None:
    """Add or replace a backend: `target` is "module:Class"."""
    REGISTRY[name] = target


def backend_class(name: str) -> type[Backend]:
    if name not in REGISTRY:
        raise ValueError(f"unknown backend {name!r}: expected one of {sorted(REGISTRY)} or 'auto'")
    module, cls = REGISTRY[name].split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as e:  # the module itself is missing (not the optional library, handled by available())
        raise BackendUnavailable(f"backend {name!r} could not be imported: {e}") from None


def availability(device: str | torch.device | None = None) -> dict[str, Availability]:
    """For every registered backend: can it run on `device` here, and if not, why."""
    out = {}
    for name in REGISTRY:
        try:
            out[name] = backend_class(name).available(device)
        except BackendUnavailable as e:
            out[name] = Availability(False, str(e))
    return out


def _importable(names) -> list[type[Backend] | None]:
    """backend_class(name) for each name, None for a backend whose module cannot be imported."""
    out: list[type[Backend] | None] = []
    for name in names:
        try:
            out.append(backend_class(name))
        except BackendUnavailable:
            out.append(None)
    return out


def create(name: str, path: str | Path, **options) -> Backend:
    """Instantiate backend `name` on model file `path` (options: device, precision, max_batch, ...).
    Raises BadOption for an option the backend does not take."""
    if name == "auto":
        return auto(path, **options)
    cls = backend_class(name)
    check_options(options, [cls], f"backend {name!r}")
    return _load(name, cls, path, options)


def _load(name: str, cls: type[Backend], path: str | Path, options: dict) -> Backend:
    ok = cls.available(options.get("device"))
    if not ok.ok:
        raise BackendUnavailable(f"backend {name!r} is not usable here: {ok.reason}")
    return cls.load(Path(path), **options)  # type: ignore[attr-defined]


def _check_values(options: Mapping) -> None:
    """The option values every backend reads, checked once: device and precision (BadOption)."""
    resolve_device(options.get("device"))
    precision = options.get("precision")
    if precision is not None and precision not in PRECISIONS:
        raise BadOption(f"unknown precision {precision!r}: expected one of {PRECISIONS}")


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def auto(path: str | Path, **options) -> Backend:
    """The first backend in AUTO_ORDER[device type] that is available and can load `path` at the asked
    precision (each backend's default when none is asked), given the options it takes.

    Any failure to load or build (BackendUnavailable, but also a RuntimeError from an engine build or a
    ValueError from bad metadata) moves on to the next backend, with a one-line reason each; a bad option
    (BadOption: a value no backend takes, or a name none of them knows) is the caller's mistake and raises
    at once."""
    _check_values(options)
    device = resolve_device(options.get("device"))  # picks the order; each backend resolves the option itself
    order = AUTO_ORDER.get(device.type, ())
    classes = {name: cls for name, cls in zip(order, _importable(order)) if cls is not None}
    check_options(options, list(classes.values()), f"backend 'auto' ({', '.join(order)})")
    reasons = []
    for name in order:
        if name not in classes:
            reasons.append(f"{name}: could not be imported")
            continue
        cls = classes[name]
        taken = load_options(cls)
        try:
            return _load(name, cls, path, {k: v for k, v in options.items() if k in taken})
        except BadOption:
            raise
        except BackendUnavailable as e:
            reasons.append(f"{name}: {_one_line(e)}")
        except Exception as e:  # noqa: BLE001 — a backend that breaks while loading must not stop the others
            reasons.append(f"{name}: {type(e).__name__}: {_one_line(e)}")
            warnings.warn(f"backend {name!r} failed to load {path} ({reasons[-1]}); trying the next one",
                          RuntimeWarning, stacklevel=2)
    raise BackendUnavailable(f"no backend can run {path} on {device} here:\n  " + "\n  ".join(reasons))
