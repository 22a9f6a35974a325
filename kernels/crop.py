"""Crop-resize-normalise: B depth frames, B hand centres, a cube → (B, 1, S, S) network input.

`crop_reference` is the plain torch reference and the CPU path; `crop_resize_normalize` validates its input
and dispatches to the Triton kernel (kernels/crop_triton.py) on CUDA tensors or to the reference elsewhere.
"""
from __future__ import annotations

from typing import Any

import torch

from lfsdk.geometry import CameraLike, crop_affine, normalize_depth

from .inputs import as_depth, as_points, depth_float, frame_cameras, frame_cubes, launch_device, resolve_impl

__all__ = ["MODES", "crop_reference", "crop_resize_normalize", "usable_centers"]

MODES = ("nearest", "bilinear")


def usable_centers(centers_uvd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3) centres → (ok (B,) finite with d > 0, safe (B, 3) with unusable rows replaced by (0, 0, 1))."""
    ok = centers_uvd.isfinite().all(dim=-1) & (centers_uvd[:, 2] > 0)
    stand_in = (torch.arange(3, device=centers_uvd.device) == 2).to(centers_uvd.dtype)  # no host→device copy
    return ok, torch.where(ok[:, None], centers_uvd, stand_in)


def crop_reference(depth: torch.Tensor, centers_uvd: torch.Tensor, cube, camera: CameraLike,
                   size: int = 128, mode: str = "nearest") -> torch.Tensor:
    """Sample each frame's cube box into an S×S crop, depth normalised to [-1, 1] around the centre.

    depth: (B, H, W) mm (0 = missing; NaN/inf count as missing); centers_uvd: (B, 3); cube: (3,) or (B, 3) mm.
    Crop pixel (row, col) samples image (u, v) = crop_affine · (col, row, 1): nearest takes pixel
    (floor(v + ½), floor(u + ½)); bilinear blends only valid (> 0, in-image) neighbours, renormalising their
    weights, so a hole never drags depth towards 0. Samples outside the image, missing, or outside the cube's
    depth range → 1; a frame whose centre is unusable (d ≤ 0 or not finite, e.g. hand not found) → all 1.
    Returns (B, 1, S, S) float32.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'nearest' or 'bilinear', got {mode!r}")
    b, h, w = depth.shape
    d = depth_float(depth)
    if depth.is_floating_point():
        d = torch.where(d.isfinite(), d, 0.0)
    ok, c = usable_centers(centers_uvd.float())
    a = crop_affine(c, cube, camera, size)  # (B, 2, 3)
    k = torch.arange(size, device=d.device, dtype=torch.float32)
    u = a[:, 0, 0, None] * k + a[:, 0, 2, None]  # (B, S) columns
    v = a[:, 1, 1, None] * k + a[:, 1, 2, None]  # (B, S) rows
    flat = d.reshape(b, h * w)

    def gather(ui: torch.Tensor, vi: torch.Tensor) -> torch.Tensor:
        """(B,S) int cols, (B,S) int rows → (B,S,S) depth, 0 outside the image."""
        inside = (vi[:, :, None] >= 0) & (vi[:, :, None] < h) & (ui[:, None, :] >= 0) & (ui[:, None, :] < w)
        idx = vi.clamp(0, h - 1)[:, :, None] * w + ui.clamp(0, w - 1)[:, None, :]
        return torch.where(inside, torch.gather(flat, 1, idx.reshape(b, size * size)).reshape(b, size, size), 0.0)

    if mode == "nearest":
        sampled = gather(torch.floor(u + 0.5).long(), torch.floor(v + 0.5).long())
    else:
        u0, v0 = torch.floor(u), torch.floor(v)
        fu, fv = (u - u0)[:, None, :], (v - v0)[:, :, None]
        u0, v0 = u0.long(), v0.long()
        num = torch.zeros(b, size, size, device=d.device)
        den = torch.zeros_like(num)
        for du, wu in ((0, 1 - fu), (1, fu)):
            for dv, wv in ((0, 1 - fv), (1, fv)):
                s = gather(u0 + du, v0 + dv)
                wgt = wu * wv * (s > 0)
                num += wgt * s
                den += wgt
        sampled = torch.where(den > 1e-6, num / den.clamp_min(1e-6), 0.0)
    cube_z = torch.as_tensor(cube, device=d.device, dtype=torch.float32)[..., 2]
    out = normalize_depth(sampled, c[:, 2], cube_z)
    return torch.where(ok[:, None, None], out, 1.0)[:, None]


def crop_resize_normalize(depth: Any, centers_uvd: Any, cube: Any, camera: CameraLike, size: int = 128,
                          mode: str = "nearest", *, impl: str = "auto") -> torch.Tensor:
    """Batched crops: see crop_reference for the maths.

    depth: (B, H, W) uint16/int/float mm, torch (CPU or CUDA) or numpy; non-contiguous input is copied to a
    contiguous one. centers_uvd: (B, 3) (e.g. hand_center(...).uvd); cube: (3,) or (B, 3) mm; camera:
    Camera, (4,) or (B, 4). impl: 'auto' (Triton on CUDA when triton imports, else torch), 'triton', 'torch'.
    Returns (B, 1, size, size) float32 on depth's device.
    """
    d = as_depth(depth)
    b = d.shape[0]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int (crop side in pixels), got {size!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    c = as_points(centers_uvd, "centers_uvd", (b, 3), d.device)
    cam = frame_cameras(camera, b, d.device)
    cubes = frame_cubes(cube, b, d.device)
    if resolve_impl(impl, d.device) == "torch" or b == 0:
        return crop_reference(d, c, cubes, cam, size=size, mode=mode)
    from .crop_triton import crop_triton  # triton imported only when used

    with launch_device(d):
        return crop_triton(d.contiguous(), c, cubes, cam, size=size, mode=mode)
