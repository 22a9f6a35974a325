"""Checks of what users hand the estimator — depth frames, hand centres, boxes — each with an InputError that
says what was wrong and what was expected, so that nothing malformed reaches a kernel or a backend."""
from __future__ import annotations

from typing import Any

import torch

from .contract import FLOAT_DEPTH, INT_DEPTH, InputError, as_tensor
from .geometry import Camera, xyz_to_uvd
from .kernels import HandCenters
from .kernels.center import centers_from_uvd

__all__ = ["as_depth_batch", "given_centers", "box_masked", "as_camera"]


def as_depth_batch(depth: Any) -> tuple[torch.Tensor, bool]:
    """Check depth frames and return ((B, H, W) tensor, was_single_frame). Dtype and device are kept.

    Accepts (H, W) or (B, H, W) uint16/int/float millimetres (0 = missing), numpy or torch. Raises InputError
    for any other rank, dtype, an empty batch, NaN/inf or negative depth."""
    d = as_tensor(depth, "depth")
    single = d.dim() == 2
    if d.dim() not in (2, 3):
        raise InputError(f"depth must be (H, W) or (B, H, W) millimetres, got shape {tuple(d.shape)}")
    if d.dim() == 3 and d.shape[-1] in (3, 4) and d.shape[1] > 4:
        # no depth frame is 3 or 4 pixels wide: this is a colour image, (H, W, 3) RGB or (H, W, 4) RGBA
        raise InputError(f"depth of shape {tuple(d.shape)} looks like an (H, W, {d.shape[-1]}) colour image: "
                         "expected (H, W) or (B, H, W) millimetres (pass one channel, e.g. depth[..., 0], if "
                         "that channel holds the depth)")
    if single:
        d = d[None]
    if d.dtype not in INT_DEPTH + FLOAT_DEPTH:
        hint = " (8-bit images hold no depth in mm: read the 16-bit depth map)" if d.dtype == torch.uint8 else ""
        raise InputError(f"depth dtype {d.dtype} is not supported: expected uint16 or float millimetres{hint}")
    if d.shape[0] == 0 or d.shape[1] < 2 or d.shape[2] < 2:
        raise InputError(f"depth must hold at least one frame of at least 2×2 pixels, got shape {tuple(d.shape)}")
    if d.is_floating_point():
        bad = int((~torch.isfinite(d)).sum())
        if bad:
            raise InputError(f"depth holds {bad} NaN/inf pixels: mark missing pixels with 0 "
                             "(e.g. np.nan_to_num(depth, nan=0, posinf=0, neginf=0))")
    if d.dtype != torch.uint16 and bool((d < 0).any()):
        raise InputError(f"depth holds negative values (min {float(d.min()):g}): expected millimetres ≥ 0, "
                         "0 for missing pixels")
    return d, single


def as_camera(camera: Any, default: Camera | None = None) -> Camera:
    """A Camera, a preset name, 'fx,fy,cx,cy' or four numbers → Camera (None → `default`); InputError
    otherwise, including an empty string (a missing value, not a camera)."""
    if camera is None and default is not None:
        return default
    if camera is None or (isinstance(camera, str) and not camera.strip()):
        raise InputError(f"camera {camera!r} is empty: expected nyu, icvl, msra or 'fx,fy,cx,cy'")
    return Camera.parse(camera)


def _points(x: Any, name: str, b: int, k: int, device: torch.device) -> torch.Tensor:
    """(k,) or (B, k) finite numbers → (B, k) float32 on device."""
    t = as_tensor(x, name)
    if t.dtype == torch.bool or t.is_complex():
        raise InputError(f"{name} must be real numbers, got dtype {t.dtype}")
    if t.dim() == 1 and b == 1:
        t = t[None]
    if tuple(t.shape) != (b, k):
        raise InputError(f"{name} must be ({b}, {k}) for {b} frame(s), got shape {tuple(t.shape)}")
    t = t.to(device=device, dtype=torch.float32)
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"{name} holds NaN or inf")
    return t


def given_centers(centers: Any, space: str, b: int, camera: Camera, device: torch.device) -> HandCenters:
    """User-given hand centres, (3,) or (B, 3) in 'uvd' (px, px, mm) or 'xyz' (mm) → HandCenters."""
    if space not in ("uvd", "xyz"):
        raise InputError(f"center_space must be 'uvd' or 'xyz', got {space!r}")
    c = _points(centers, "centers", b, 3, device)
    if bool((c[:, 2] <= 0).any()):
        raise InputError(f"centers: depth (the {'d' if space == 'uvd' else 'z'} column) must be > 0 mm, "
                         f"got {c[:, 2].tolist()}")
    uvd = c if space == "uvd" else xyz_to_uvd(c, camera)
    return centers_from_uvd(uvd, torch.ones(b, dtype=torch.bool, device=device), camera)


def box_masked(depth: torch.Tensor, boxes: Any) -> torch.Tensor:
    """Depth with every pixel outside each frame's box (u0, v0, u1, v1) set to 0 (missing)."""
    b, h, w = depth.shape
    bx = _points(boxes, "boxes", b, 4, depth.device)
    if bool(((bx[:, 2] <= bx[:, 0]) | (bx[:, 3] <= bx[:, 1])).any()):
        raise InputError(f"boxes must be (u0, v0, u1, v1) with u1 > u0 and v1 > v0 (pixels), got {bx.tolist()}")
    cols = torch.arange(w, device=depth.device)[None, None, :]
    rows = torch.arange(h, device=depth.device)[None, :, None]
    inside = ((cols >= bx[:, 0, None, None]) & (cols <= bx[:, 2, None, None])
              & (rows >= bx[:, 1, None, None]) & (rows <= bx[:, 3, None, None]))
    return torch.where(inside, depth, torch.zeros((), dtype=depth.dtype, device=depth.device))
