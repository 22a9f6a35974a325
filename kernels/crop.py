"""Crop-resize-normalise: B depth frames, B hand centres, one cube → (B, 1, S, S) network input.

Torch reference (also the CPU path). The Triton kernel, when present, must match it.
"""
from __future__ import annotations

import torch

from lfsdk.geometry import CameraLike, crop_affine, normalize_depth

__all__ = ["crop_reference"]


def crop_reference(depth: torch.Tensor, centers_uvd: torch.Tensor, cube, camera: CameraLike,
                   size: int = 128, mode: str = "nearest") -> torch.Tensor:
    """Sample each frame's cube box into an S×S crop, depth normalised to [-1, 1] around the centre.

    depth: (B, H, W) mm (0 = missing); centers_uvd: (B, 3); cube: (3,) or (B, 3) mm.
    Bilinear mode blends only valid (non-zero, in-image) neighbours, renormalising their weights, so a hole
    never drags depth towards 0. Samples outside the image, missing, or outside the cube's depth range → 1.
    Returns (B, 1, S, S) float32.
    """
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"mode must be 'nearest' or 'bilinear', got {mode!r}")
    b, h, w = depth.shape
    d = depth.float()
    c = centers_uvd.float()
    a = crop_affine(c, cube, camera, size)  # (B, 2, 3)
    k = torch.arange(size, device=d.device, dtype=torch.float32)
    u = a[:, 0, 0, None] * k + a[:, 0, 2, None]  # (B, S) columns
    v = a[:, 1, 1, None] * k + a[:, 1, 2, None]  # (B, S) rows
    flat = d.reshape(b, h * w)

    def gather(ui: torch.Tensor, vi: torch.Tensor) -> torch.Tensor:
        """(B,S) int cols, (B,S) int rows → (B,S,S) depth, 0 outside the image."""
        inside = (vi[:, :, None] >= 0) & (vi[:, :, None] < h) & (ui[:, None, :] >= 0) & (ui[:, None, :] < w)
        idx = vi.clamp(0, h - 1)[:, :, None] * w + ui.clamp(0, w - 1)[:, None, :]
        return torch.where(inside, torch.gather(flat, 1, idx.reshape(b, -1)).reshape(b, size, size), 0.0)

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
    return normalize_depth(sampled, c[:, 2], cube_z)[:, None]
