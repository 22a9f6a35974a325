"""Input checks and implementation choice shared by the kernel dispatch functions.

Every public op validates here once (rank, shape, dtype, device, batch agreement) with a ValueError that says
what was wrong and what was expected, so neither the torch reference nor a Triton kernel ever sees bad input.
"""
from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import astuple
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from lfsdk.contract import DEPTH_DTYPES, as_tensor
from lfsdk.geometry import Camera, CameraLike

__all__ = ["DEPTH_DTYPES", "as_depth", "as_points", "depth_float", "frame_cameras", "frame_cubes", "launch_device",
           "resolve_impl", "triton_available", "uint16_to_float"]

_IMPLS = ("auto", "triton", "torch")


def _tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, (list, tuple)):  # kernels take arrays only: nested lists are the estimator's convenience
        raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    return as_tensor(x, name)


def as_depth(depth: Any) -> torch.Tensor:
    """(B, H, W) depth frames in mm (torch or numpy; 0 = missing) → a torch tensor, dtype and device kept."""
    d = _tensor(depth, "depth")
    if d.dim() != 3:
        hint = " (for one frame use depth[None])" if d.dim() == 2 else ""
        raise ValueError(f"depth must be (B, H, W), got shape {tuple(d.shape)}{hint}")
    if d.dtype not in DEPTH_DTYPES:
        raise ValueError(f"depth dtype {d.dtype} is not supported: expected uint16 or float mm "
                         f"(one of {', '.join(str(t).removeprefix('torch.') for t in DEPTH_DTYPES)})")
    if d.shape[1] == 0 or d.shape[2] == 0:
        raise ValueError(f"depth frames must be at least 1×1 pixels, got shape {tuple(d.shape)}")
    return d


@lru_cache(maxsize=64)
def _constant(values: tuple, device: torch.device) -> torch.Tensor:
    """A small float32 tensor of host values on `device`, made once: a fresh host→device copy on every
    call would make each batch wait for the GPU (pageable copies synchronise)."""
    return torch.tensor(values, dtype=torch.float32, device=device)


def uint16_to_float(depth: torch.Tensor) -> torch.Tensor:
    """uint16 → float32 through an int16 view, for torch builds whose device has no uint16 → float cast."""
    x = depth.view(torch.int16).float()
    return torch.where(x < 0, x + 65536.0, x)


def depth_float(depth: torch.Tensor) -> torch.Tensor:
    """Any DEPTH_DTYPES tensor → float32 mm, same shape and device."""
    if depth.dtype == torch.uint16:
        try:
            return depth.float()
        except (NotImplementedError, RuntimeError):  # torch's uint16 support is partial on some devices
            return uint16_to_float(depth)
    return depth.float()


def frame_cameras(camera: CameraLike, b: int, device: torch.device) -> torch.Tensor:
    """camera: Camera, (4,) or (B, 4) (fx, fy, cx, cy) → (B, 4) float32 contiguous on `device`."""
    if isinstance(camera, Camera):
        k = _constant(astuple(camera), torch.device(device))
    elif isinstance(camera, (torch.Tensor, np.ndarray)):
        k = _tensor(camera, "camera").to(device=device, dtype=torch.float32)
    else:
        raise ValueError(f"camera must be a Camera or a (4,)/(B, 4) tensor (fx, fy, cx, cy), "
                         f"got {type(camera).__name__}")
    if k.shape not in ((4,), (b, 4)):
        raise ValueError(f"camera must be (4,) or (B, 4) = ({b}, 4) (fx, fy, cx, cy), got shape {tuple(k.shape)}")
    return k.expand(b, 4).contiguous()


def frame_cubes(cube: Any, b: int, device: torch.device) -> torch.Tensor:
    """cube: float, (3,) or (B, 3) mm → (B, 3) float32 contiguous on `device`.

    Sizes are checked (positive, finite) unless the cube is already a GPU tensor, where the check would
    synchronise the device; the kernels treat a bad size as an empty box instead of crashing.
    """
    if isinstance(cube, torch.Tensor) and cube.device.type != "cpu":
        c = cube.to(device=device, dtype=torch.float32)
    else:
        if isinstance(cube, (int, float)):
            cube = (float(cube),) * 3
        try:
            c = torch.as_tensor(np.asarray(cube, dtype=np.float32))
        except (TypeError, ValueError) as e:
            raise ValueError(f"cube must be a size in mm, (3,) or (B, 3), got {cube!r} ({e})") from None
        if c.shape in ((3,), (b, 3)) and not bool(((c > 0) & c.isfinite()).all()):
            raise ValueError(f"cube sizes must be positive finite mm, got {c.tolist() if c.numel() <= 12 else c}")
        c = _constant(tuple(c.tolist()), torch.device(device)) if c.shape == (3,) else c.to(device)
    if c.shape not in ((3,), (b, 3)):
        raise ValueError(f"cube must be (3,) or (B, 3) = ({b}, 3) mm, got shape {tuple(c.shape)}")
    return c.expand(b, 3).contiguous()


def as_points(x: Any, name: str, shape: tuple, device: torch.device) -> torch.Tensor:
    """A float tensor of exactly `shape` (None = any size) → float32 contiguous on `device`."""
    t = _tensor(x, name)
    if t.dim() != len(shape) or any(s is not None and s != n for s, n in zip(shape, t.shape)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {tuple(t.shape)}")
    if t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must be real numbers, got dtype {t.dtype}")
    return t.to(device=device, dtype=torch.float32).contiguous()


@lru_cache(maxsize=1)
def triton_available() -> bool:
    """True when triton imports (the kernels need it; the torch references never do)."""
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except Exception:  # an import of a broken triton install can fail with anything, not only ImportError
        return False
    return True


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def resolve_impl(impl: str, device: torch.device) -> str:
    """'auto' → 'triton' on CUDA tensors when triton imports, else 'torch'. An explicit 'triton' on CPU
    tensors needs the interpreter (TRITON_INTERPRET=1, set before triton is first imported)."""
    if impl not in _IMPLS:
        raise ValueError(f"impl must be one of {_IMPLS}, got {impl!r}")
    if impl == "auto":
        return "triton" if device.type == "cuda" and triton_available() else "torch"
    if impl == "triton":
        if not triton_available():
            raise RuntimeError("impl='triton' but triton does not import; install triton or use impl='torch'")
        if device.type != "cuda" and not _interpreting():
            raise RuntimeError(f"impl='triton' on {device.type} tensors needs TRITON_INTERPRET=1 (set before "
                               "triton is imported); on real hardware pass CUDA tensors")
    return impl


def launch_device(t: torch.Tensor) -> AbstractContextManager:
    """Where a Triton launch on `t` must run: Triton launches on the current CUDA device, not the tensor's,
    so t's device is made current (a tensor on cuda:1 with cuda:0 current would otherwise read the wrong
    GPU's memory); nothing to do for CPU tensors (the Triton interpreter)."""
    return torch.cuda.device(t.device) if t.device.type == "cuda" else nullcontext()
