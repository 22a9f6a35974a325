"""Triton kernel for the hand centre (matches center.hand_center_reference). Imported only when used.

One program per frame, streaming the frame in BLOCK-pixel chunks: pass 1 finds the nearest valid depth,
pass 2 takes the masked sums (count, Σu, Σv, Σd) of the band behind it, and with REFINE a third pass walks
only the cube's projected box around the first centre. Per-lane accumulators keep float32 sums short.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["hand_center_triton"]

BLOCK = 1024


@triton.jit
def _hand_center_kernel(depth_ptr, cam_ptr, cube_ptr, uvd_ptr, found_ptr, H, W, near, far, band,
                        REFINE: tl.constexpr, BLOCK: tl.constexpr):
    b = tl.program_id(0)
    n_pix = H * W
    frame = depth_ptr + b.to(tl.int64) * n_pix
    offs = tl.arange(0, BLOCK)
    inf = float("inf")

    # pass 1: nearest valid depth
    lo = tl.full([BLOCK], inf, tl.float32)
    for start in range(0, n_pix, BLOCK):
        idx = start + offs
        d = tl.load(frame + idx, mask=idx < n_pix, other=0).to(tl.float32)
        lo = tl.minimum(lo, tl.where((d > near) & (d < far), d, inf))
    limit = tl.min(lo, axis=0) + band

    # pass 2: centre of mass of the band [nearest, nearest + band]
    cnt = tl.zeros([BLOCK], tl.float32)
    su = tl.zeros([BLOCK], tl.float32)
    sv = tl.zeros([BLOCK], tl.float32)
    sd = tl.zeros([BLOCK], tl.float32)
    for start in range(0, n_pix, BLOCK):
        idx = start + offs
        d = tl.load(frame + idx, mask=idx < n_pix, other=0).to(tl.float32)
        sel = (d > near) & (d < far) & (d <= limit)
        row = idx // W
        cnt += sel.to(tl.float32)
        su += tl.where(sel, (idx - row * W).to(tl.float32), 0.0)
        sv += tl.where(sel, row.to(tl.float32), 0.0)
        sd += tl.where(sel, d, 0.0)
    n = tl.sum(cnt, axis=0)
    denom = tl.maximum(n, 1.0)
    u = tl.sum(su, axis=0) / denom
    v = tl.sum(sv, axis=0) / denom
    z = tl.sum(sd, axis=0) / denom
    found = n > 0

    if REFINE:
        # second centre of mass inside the cube around (u, v, z); same half extents as geometry.crop_half_extent
        zc = tl.where(found, z, 1.0)
        uc = tl.where(found, u, 1.0)
        vc = tl.where(found, v, 1.0)
        hu = tl.load(cube_ptr + b * 3) / 2 * tl.load(cam_ptr + b * 4) / zc
        hv = tl.load(cube_ptr + b * 3 + 1) / 2 * tl.load(cam_ptr + b * 4 + 1) / zc
        hd = tl.load(cube_ptr + b * 3 + 2) / 2
        # loop bounds cover the box with a pixel to spare (clamped in float first so huge boxes cannot
        # overflow int32); the exact test below is the reference's
        c0 = tl.maximum(uc - hu - 1.0, 0.0).to(tl.int32)
        c1 = tl.minimum(uc + hu + 1.0, (W - 1) * 1.0).to(tl.int32)
        r0 = tl.maximum(vc - hv - 1.0, 0.0).to(tl.int32)
        r1 = tl.minimum(vc + hv + 1.0, (H - 1) * 1.0).to(tl.int32)
        bw = c1 - c0 + 1
        n_box = tl.where(found & (bw > 0) & (r1 >= r0), bw * (r1 - r0 + 1), 0)  # NaN/≤0 cube: no box
        cnt = tl.zeros([BLOCK], tl.float32)
        su = tl.zeros([BLOCK], tl.float32)
        sv = tl.zeros([BLOCK], tl.float32)
        sd = tl.zeros([BLOCK], tl.float32)
        for start in range(0, n_box, BLOCK):
            k = start + offs
            row = r0 + k // bw
            col = c0 + k % bw
            d = tl.load(frame + row * W + col, mask=k < n_box, other=0).to(tl.float32)
            colf = col.to(tl.float32)
            rowf = row.to(tl.float32)
            sel = ((k < n_box) & (d > near) & (d < far) & (tl.abs(colf - uc) <= hu) & (tl.abs(rowf - vc) <= hv)
                   & (tl.abs(d - zc) <= hd))
            cnt += sel.to(tl.float32)
            su += tl.where(sel, colf, 0.0)
            sv += tl.where(sel, rowf, 0.0)
            sd += tl.where(sel, d, 0.0)
        n2 = tl.sum(cnt, axis=0)
        denom2 = tl.maximum(n2, 1.0)
        better = n2 > 0
        u = tl.where(better, tl.sum(su, axis=0) / denom2, u)
        v = tl.where(better, tl.sum(sv, axis=0) / denom2, v)
        z = tl.where(better, tl.sum(sd, axis=0) / denom2, z)

    tl.store(uvd_ptr + b * 3, u)
    tl.store(uvd_ptr + b * 3 + 1, v)
    tl.store(uvd_ptr + b * 3 + 2, z)
    tl.store(found_ptr + b, found.to(tl.int8))


def hand_center_triton(depth: torch.Tensor, cam: torch.Tensor, cube: torch.Tensor, *, band: float, near: float,
                       far: float, refine: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """depth (B, H, W) contiguous, cam (B, 4), cube (B, 3) float32 → (uvd (B, 3) float32, found (B,) bool).

    uvd is 0 where not found (the sums are empty); inputs are validated by center.hand_center.
    """
    b, h, w = depth.shape
    uvd = torch.empty(b, 3, device=depth.device, dtype=torch.float32)
    found = torch.empty(b, device=depth.device, dtype=torch.int8)
    _hand_center_kernel[(b,)](depth, cam, cube, uvd, found, h, w, near, far, band, REFINE=refine, BLOCK=BLOCK)
    return uvd, found.bool()
