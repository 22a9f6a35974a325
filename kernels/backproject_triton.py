"""Triton kernel for back-projection (matches backproject.backproject_reference). Imported only when used.

Elementwise over the B·M joints: uvd = n·h + c with h = geometry.crop_half_extent, then the pinhole
geometry.uvd_to_xyz, both in the reference's float32 operation order.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["backproject_triton"]

BLOCK = 256


@triton.jit
def _backproject_kernel(norm_ptr, center_ptr, cube_ptr, cam_ptr, uvd_ptr, xyz_ptr, N, M, BLOCK: tl.constexpr):
    j = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = j < N
    b = j // M
    uc = tl.load(center_ptr + b * 3, mask=live, other=0.0)
    vc = tl.load(center_ptr + b * 3 + 1, mask=live, other=0.0)
    dc = tl.load(center_ptr + b * 3 + 2, mask=live, other=1.0)
    ok = (uc - uc == 0) & (vc - vc == 0) & (dc - dc == 0) & (dc > 0)
    dc = tl.where(ok, dc, 1.0)
    fx = tl.load(cam_ptr + b * 4, mask=live, other=1.0)
    fy = tl.load(cam_ptr + b * 4 + 1, mask=live, other=1.0)
    cx = tl.load(cam_ptr + b * 4 + 2, mask=live, other=0.0)
    cy = tl.load(cam_ptr + b * 4 + 3, mask=live, other=0.0)
    hu = tl.load(cube_ptr + b * 3, mask=live, other=1.0) / 2 * fx / dc
    hv = tl.load(cube_ptr + b * 3 + 1, mask=live, other=1.0) / 2 * fy / dc
    hd = tl.load(cube_ptr + b * 3 + 2, mask=live, other=1.0) / 2
    nan = float("nan")
    u = tl.where(ok, tl.load(norm_ptr + j * 3, mask=live, other=0.0) * hu + uc, nan)
    v = tl.where(ok, tl.load(norm_ptr + j * 3 + 1, mask=live, other=0.0) * hv + vc, nan)
    d = tl.where(ok, tl.load(norm_ptr + j * 3 + 2, mask=live, other=0.0) * hd + dc, nan)
    tl.store(uvd_ptr + j * 3, u, mask=live)
    tl.store(uvd_ptr + j * 3 + 1, v, mask=live)
    tl.store(uvd_ptr + j * 3 + 2, d, mask=live)
    tl.store(xyz_ptr + j * 3, (u - cx) * d / fx, mask=live)
    tl.store(xyz_ptr + j * 3 + 1, (v - cy) * d / fy, mask=live)
    tl.store(xyz_ptr + j * 3 + 2, d, mask=live)


def backproject_triton(norm: torch.Tensor, centers: torch.Tensor, cube: torch.Tensor,
                       cam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """norm (B, M, 3), centers (B, 3), cube (B, 3), cam (B, 4) float32 contiguous → (uvd, xyz) (B, M, 3).

    Inputs are validated by backproject.backproject.
    """
    b, m, _ = norm.shape
    uvd = torch.empty_like(norm)
    xyz = torch.empty_like(norm)
    _backproject_kernel[(triton.cdiv(b * m, BLOCK),)](norm, centers, cube, cam, uvd, xyz, b * m, m, BLOCK=BLOCK,
                                                        enable_fp_fusion=False)  # round like the reference
    return uvd, xyz
