"""Hand centre: centre of mass of the near depth band, per frame.

Torch reference (also the CPU path). The Triton kernel, when present, must match it.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from lfsdk.geometry import CameraLike, uvd_to_xyz

__all__ = ["HandCenters", "hand_center_reference"]


class HandCenters(NamedTuple):
    uvd: torch.Tensor  # (B, 3) u px, v px, d mm; zeros where not found
    xyz: torch.Tensor  # (B, 3) mm; zeros where not found
    found: torch.Tensor  # (B,) bool: False for frames with no valid pixel in range


def hand_center_reference(depth: torch.Tensor, camera: CameraLike, *, band: float = 150.0,
                          near: float = 10.0, far: float = 2000.0) -> HandCenters:
    """Centre of mass (in uvd, then xyz) of the valid pixels within `band` mm behind the nearest one.

    depth: (B, H, W) float mm (0 = missing). Pixels outside (near, far) are ignored.
    """
    b, h, w = depth.shape
    d = depth.float()
    valid = (d > near) & (d < far)
    nearest = torch.where(valid, d, torch.full_like(d, float("inf"))).amin(dim=(1, 2))  # (B,)
    mask = valid & (d <= nearest[:, None, None] + band)
    wgt = mask.float()
    n = wgt.sum(dim=(1, 2))
    found = n > 0
    denom = n.clamp_min(1.0)
    rows = torch.arange(h, device=d.device, dtype=torch.float32)[None, :, None]
    cols = torch.arange(w, device=d.device, dtype=torch.float32)[None, None, :]
    u = (wgt * cols).sum(dim=(1, 2)) / denom
    v = (wgt * rows).sum(dim=(1, 2)) / denom
    z = (wgt * d).sum(dim=(1, 2)) / denom
    uvd = torch.stack((u, v, z), dim=-1) * found[:, None]
    xyz = torch.where(found[:, None], uvd_to_xyz(torch.where(found[:, None], uvd, torch.ones_like(uvd)), camera),
                      torch.zeros_like(uvd))
    return HandCenters(uvd, xyz, found)
