"""TensorRT engines without TensorRT: sidecars, batch profiles, the machine an engine belongs to, and the cache.

An engine is only valid for the TensorRT version and the GPU it was built on (TensorRT #2176, #2195, #564),
so every engine `hand.engine` has a sidecar `hand.engine.json` saying what it was built from and for:

    EngineSidecar(tensorrt_version, gpu_name, compute_capability, precision, profile, onnx_sha256,
                  engine_sha256, lfsdk_version, io=[IOSpec(name, mode, shape, dtype)], model=config dict, ...)

`check_sidecar` lists every way a sidecar disagrees with this machine, the engine file and the request;
`cache_dir`, `engine_cache_path` and `timing_cache_path` place built engines and timing caches under
~/.cache/lfsdk (or $LFSDK_CACHE), keyed so a different ONNX, GPU, TensorRT, precision or profile never
collides. Nothing here imports tensorrt; `import_tensorrt` is the one place that does, with one message
naming what to install.
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from types import ModuleType

__all__ = [
    "SIDECAR_FORMAT", "MIN_TENSORRT", "INSTALL_HINT", "TensorRTMissing", "import_tensorrt", "tensorrt_too_old",
    "BatchProfile", "parse_profile", "DEFAULT_PROFILE", "MachineInfo", "IOSpec", "EngineSidecar", "SidecarError",
    "Mismatch", "check_sidecar", "check_io", "sidecar_path", "write_sidecar", "read_sidecar", "cache_dir",
    "engine_cache_path", "timing_cache_path", "slug", "atomic_write",
]

SIDECAR_FORMAT = "lfsdk-tensorrt-engine/1"
#: oldest TensorRT written against: the named-tensor API (TRT 10), IProgressMonitor, device_memory_size_v2 and
#: set_device_memory (10.1), and strongly typed builds; setup.py's [tensorrt] extra says the same.
MIN_TENSORRT = (10, 8)
INSTALL_HINT = ("pip install tensorrt  (or the wheel for your CUDA: pip install tensorrt-cu12 / tensorrt-cu13; "
                "lfsdk's extra: pip install 'lfsdk[tensorrt]')")


class TensorRTMissing(ImportError):
    """`tensorrt` cannot be imported; the message is one line naming what to install."""


def import_tensorrt() -> ModuleType:
    """The tensorrt module, or TensorRTMissing with one line saying what to install."""
    try:
        import tensorrt
    except (ImportError, OSError) as e:  # OSError: a wheel whose CUDA/TensorRT shared libraries do not load
        raise TensorRTMissing(f"TensorRT is not installed ({e}); install it with: {INSTALL_HINT}") from None
    return tensorrt


def tensorrt_too_old(version: str) -> str | None:
    """Why this TensorRT version cannot be used ("10.3.0" → a sentence), or None when it can."""
    nums = [int(n) for n in re.findall(r"\d+", version)[:2]]
    if len(nums) < 2:
        return f"cannot read the TensorRT version {version!r}"
    if tuple(nums) < MIN_TENSORRT:
        return (f"TensorRT {version} is older than {'.'.join(map(str, MIN_TENSORRT))} "
                f"(strongly typed builds and the v2 device-memory API are needed); upgrade: {INSTALL_HINT}")
    return None


# -- batch profile ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchProfile:
    """The optimisation profile of the batch dimension: TensorRT tunes for `opt` and accepts min..max."""

    min: int
    opt: int
    max: int

    def __post_init__(self):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (self.min, self.opt, self.max)):
            raise ValueError(f"batch profile values must be integers, got {self.min!r},{self.opt!r},{self.max!r}")
        if not 1 <= self.min <= self.opt <= self.max:
            raise ValueError(f"batch profile must satisfy 1 ≤ min ≤ opt ≤ max, got {self}")

    def __str__(self) -> str:
        return f"{self.min},{self.opt},{self.max}"

    def shapes(self, sample_shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(min, opt, max) full shapes for an input whose non-batch dims are `sample_shape` (all static)."""
        bad = [d for d in sample_shape if not isinstance(d, int) or d < 1]
        if bad:
            raise ValueError(f"only the batch dimension may be dynamic; the input's other dims are {sample_shape}")
        return tuple((b, *sample_shape) for b in (self.min, self.opt, self.max))  # type: ignore[return-value]


DEFAULT_PROFILE = BatchProfile(1, 32, 128)


def parse_profile(text: str) -> BatchProfile:
    """'1,32,128' → BatchProfile(1, 32, 128); a single 'N' means a static batch N,N,N."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) == 1:
        parts *= 3
    if len(parts) != 3:
        raise ValueError(f"--batch takes min,opt,max (e.g. 1,32,128) or one static size, got {text!r}")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"--batch values must be integers, got {text!r}") from None
    return BatchProfile(*values)


# -- this machine -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MachineInfo:
    """What an engine is tied to: the TensorRT version and the GPU (name and compute capability)."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]

    def __post_init__(self):
        object.__setattr__(self, "compute_capability", tuple(int(c) for c in self.compute_capability))

    @property
    def sm(self) -> str:
        return "sm%d%d" % self.compute_capability

    def describe(self) -> str:
        return f"TensorRT {self.tensorrt_version} on {self.gpu_name} ({self.sm})"

    @classmethod
    def current(cls, tensorrt_version: str, device=None) -> "MachineInfo":
        """This machine's GPU as torch sees it (`device`: a CUDA device; the current one by default)."""
        import torch

        index = torch.device(device).index if device is not None else None
        index = torch.cuda.current_device() if index is None else index
        return cls(tensorrt_version, torch.cuda.get_device_name(index), torch.cuda.get_device_capability(index))


def slug(text: str) -> str:
    """'NVIDIA H100 80GB HBM3' → 'nvidia-h100-80gb-hbm3' (safe in file names)."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "unknown"


# -- sidecar -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IOSpec:
    """One named I/O tensor of an engine as TensorRT reports it: shape with -1 for dynamic dims, dtype by
    TensorRT's DataType name (FLOAT, HALF, ...)."""

    name: str
    mode: str  # "input" | "output"
    shape: tuple[int, ...]
    dtype: str

    def __post_init__(self):
        if self.mode not in ("input", "output"):
            raise ValueError(f"I/O tensor {self.name!r}: mode must be 'input' or 'output', got {self.mode!r}")
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    def __str__(self) -> str:
        return f"{self.mode} {self.name} {list(self.shape)} {self.dtype}"


class SidecarError(ValueError):
    """A sidecar that is missing, unreadable, or not an lfsdk engine sidecar."""


@dataclass(frozen=True)
class EngineSidecar:
    """Everything an engine was built from and for; serialised as `name.engine.json` beside the engine."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    precision: str  # of the source ONNX: the network is strongly typed, so the ONNX decides (fp32/fp16/int8)
    profile: BatchProfile
    onnx_sha256: str
    engine_sha256: str
    lfsdk_version: str
    io: tuple[IOSpec, ...] = ()
    model: dict = field(default_factory=dict)  # ModelConfig.to_dict() of the source model
    onnx_path: str = ""  # where the ONNX was at build time, to rebuild from when the machine changes
    workspace_mib: int = 0
    format: str = SIDECAR_FORMAT

    def __post_init__(self):
        object.__setattr__(self, "compute_capability", tuple(int(c) for c in self.compute_capability))
        object.__setattr__(self, "io", tuple(self.io))

    @property
    def machine(self) -> MachineInfo:
        return MachineInfo(self.tensorrt_version, self.gpu_name, self.compute_capability)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["compute_capability"] = list(self.compute_capability)
        d["profile"] = {"min": self.profile.min, "opt": self.profile.opt, "max": self.profile.max}
        d["io"] = [{**asdict(s), "shape": list(s.shape)} for s in self.io]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "EngineSidecar":
        if not isinstance(d, dict) or d.get("format") != SIDECAR_FORMAT:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise SidecarError(f"not an lfsdk engine sidecar (format {found!r}, expected {SIDECAR_FORMAT!r})")
        known = set(cls.__dataclass_fields__)
        required = {k for k, f in cls.__dataclass_fields__.items()
                    if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(d))
        if missing:
            raise SidecarError(f"sidecar lacks {missing}")
        try:
            kw = {k: v for k, v in d.items() if k in known}
            kw["profile"] = BatchProfile(**d["profile"])
            kw["io"] = tuple(IOSpec(**s) for s in d.get("io", ()))
            return cls(**kw)
        except (TypeError, ValueError, KeyError) as e:
            raise SidecarError(f"sidecar has a malformed field: {e}") from None


def sidecar_path(engine: str | os.PathLike) -> Path:
    """hand.engine → hand.engine.json"""
    p = Path(engine)
    return p.with_name(p.name + ".json")


def write_sidecar(engine: str | os.PathLike, sidecar: EngineSidecar) -> Path:
    path = sidecar_path(engine)
    atomic_write(path, (json.dumps(sidecar.to_dict(), indent=2) + "\n").encode())
    return path


def read_sidecar(engine: str | os.PathLike) -> EngineSidecar:
    path = sidecar_path(engine)
    if not path.is_file():
        raise SidecarError(f"{path}: missing; an engine is only usable with the sidecar lfsdk-build writes "
                           f"beside it (rebuild it with lfsdk-build MODEL.onnx -o {Path(engine).name})")
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SidecarError(f"{path}: not valid JSON ({e})") from None
    try:
        return EngineSidecar.from_dict(raw)
    except SidecarError as e:
        raise SidecarError(f"{path}: {e}") from None


@dataclass(frozen=True)
class Mismatch:
    """One way an engine's sidecar disagrees with what is here; `fatal` ones forbid loading the engine."""

    field: str
    expected: object  # what this machine / file / request has
    found: object  # what the sidecar says
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.field}: engine has {self.found!r}, here {self.expected!r}"


def check_sidecar(sidecar: EngineSidecar, machine: MachineInfo | None = None, *, engine_sha256: str | None = None,
                  precision: str | None = None, lfsdk_version: str | None = None) -> list[Mismatch]:
    """Every disagreement between `sidecar` and this machine (TensorRT version, GPU compute capability and
    name), the engine file's hash, the requested precision and the running lfsdk. Empty means "load it".

    TensorRT engines are only guaranteed to load on the exact TensorRT version and GPU model they were
    built on, so all of those are fatal. A different lfsdk version is recorded but not fatal: the engine's
    I/O is checked against the engine itself (`check_io`), not against lfsdk's version.
    """
    out: list[Mismatch] = []
    if engine_sha256 is not None and engine_sha256 != sidecar.engine_sha256:
        out.append(Mismatch("engine_sha256", engine_sha256, sidecar.engine_sha256))
    if machine is not None:
        if machine.tensorrt_version != sidecar.tensorrt_version:
            out.append(Mismatch("tensorrt_version", machine.tensorrt_version, sidecar.tensorrt_version))
        if machine.compute_capability != sidecar.compute_capability:
            out.append(Mismatch("compute_capability", machine.sm, sidecar.machine.sm))
        if machine.gpu_name != sidecar.gpu_name:
            out.append(Mismatch("gpu_name", machine.gpu_name, sidecar.gpu_name))
    if precision is not None and precision != sidecar.precision:
        out.append(Mismatch("precision", precision, sidecar.precision))
    if lfsdk_version is not None and lfsdk_version != sidecar.lfsdk_version:
        out.append(Mismatch("lfsdk_version", lfsdk_version, sidecar.lfsdk_version, fatal=False))
    return out


def check_io(recorded: tuple[IOSpec, ...] | list[IOSpec], engine: tuple[IOSpec, ...] | list[IOSpec]) -> list[str]:
    """Disagreements between the sidecar's I/O list and the deserialised engine's, by tensor name: a sidecar
    written for another engine, or an engine swapped under its sidecar. Empty means consistent."""
    problems = []
    rec, eng = {s.name: s for s in recorded}, {s.name: s for s in engine}
    for name in sorted(set(rec) | set(eng)):
        if name not in eng:
            problems.append(f"sidecar lists {rec[name]}, the engine has no such tensor")
        elif name not in rec:
            problems.append(f"the engine has {eng[name]}, the sidecar does not list it")
        elif rec[name] != eng[name]:
            problems.append(f"sidecar says {rec[name]}, the engine has {eng[name]}")
    return problems


# -- cache ------------------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """$LFSDK_CACHE, else $XDG_CACHE_HOME/lfsdk, else ~/.cache/lfsdk (not created here)."""
    env = os.environ.get("LFSDK_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "lfsdk"


def engine_cache_path(onnx_sha256: str, machine: MachineInfo, precision: str, profile: BatchProfile) -> Path:
    """Where the engine built from this ONNX for this machine, precision and profile lives in the cache.
    Every part of the key is in the file name, readable, so `ls` shows what is cached."""
    if not re.fullmatch(r"[0-9a-f]{64}", onnx_sha256):
        raise ValueError(f"onnx_sha256 must be 64 hex digits, got {onnx_sha256!r}")
    name = (f"{onnx_sha256[:16]}-{precision}-b{profile.min}_{profile.opt}_{profile.max}"
            f"-trt{slug(machine.tensorrt_version)}-{slug(machine.gpu_name)}-{machine.sm}.engine")
    return cache_dir() / "engines" / name


def timing_cache_path(machine: MachineInfo) -> Path:
    """The timing cache is device-specific (tactic timings) and TensorRT-version specific: one per both."""
    return cache_dir() / "timing" / f"trt{slug(machine.tensorrt_version)}-{slug(machine.gpu_name)}-{machine.sm}.cache"


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file (two builds may race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
