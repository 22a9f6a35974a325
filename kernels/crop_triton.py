"""Triton kernel for crop-resize-normalise (matches crop.crop_reference). Imported only when used.

A gather per output pixel: grid (B, ⌈S²/BLOCK⌉). Each program derives its frame's crop affine from the centre,
cube and intrinsics (the same float32 operations, in the same order, as geometry.crop_affine), samples
nearest or bilinear with valid-neighbour renormalisation, and normalises depth to the cube in one pass.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["crop_triton"]

BLOCK = 1024


@triton.jit
def _pixel(frame, uu, vv, use, W, wf, hf):
    """Depth at integer-valued float coordinates (uu, vv); 0 outside the image, where not `use`, or NaN/inf."""
    inside = use & (uu >= 0) & (uu < wf) & (vv >= 0) & (vv < hf)
    # clamp before the int conversion: a far-outside (masked) sample must not overflow int32
    row = tl.minimum(tl.maximum(vv, 0.0), hf - 1).to(tl.int32)
    idx = row * W + tl.minimum(tl.maximum(uu, 0.0), wf - 1).to(tl.int32)
    s = tl.load(frame + idx, mask=inside, other=0).to(tl.float32)
    return tl.where(s - s == 0, s, 0.0)


@triton.jit
def _tap(frame, uu, vv, wgt, use, W, wf, hf):
    """One bilinear tap: (depth, weight), the weight zeroed where the depth is missing (reference: w·(s > 0))."""
    s = _pixel(frame, uu, vv, use, W, wf, hf)
    return s, wgt * (s > 0).to(tl.float32)


@triton.jit
def _crop_kernel(depth_ptr, center_ptr, cube_ptr, cam_ptr, out_ptr, H, W, S, grid_off,
                 BILINEAR: tl.constexpr, BLOCK: tl.constexpr):
    b = tl.program_id(0)
    k = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    live = k < S * S
    frame = depth_ptr + b.to(tl.int64) * H * W

    uc = tl.load(center_ptr + b * 3)
    vc = tl.load(center_ptr + b * 3 + 1)
    dc = tl.load(center_ptr + b * 3 + 2)
    # unusable centre (hand not found, NaN, d ≤ 0) → the whole crop is 1; sample around a harmless stand-in
    ok = (uc - uc == 0) & (vc - vc == 0) & (dc - dc == 0) & (dc > 0)
    uc = tl.where(ok, uc, 0.0)
    vc = tl.where(ok, vc, 0.0)
    dc = tl.where(ok, dc, 1.0)
    use = tl.where(ok, live, False)  # not `live & ok`: the interpreter cannot broadcast a scalar bool in `&`
    hu = tl.load(cube_ptr + b * 3) / 2 * tl.load(cam_ptr + b * 4) / dc
    hv = tl.load(cube_ptr + b * 3 + 1) / 2 * tl.load(cam_ptr + b * 4 + 1) / dc
    half = tl.load(cube_ptr + b * 3 + 2) / 2
    sf = S * 1.0
    row = k // S
    u = 2 * hu / sf * (k - row * S).to(tl.float32) + (uc + hu * grid_off)
    v = 2 * hv / sf * row.to(tl.float32) + (vc + hv * grid_off)
    wf = W * 1.0
    hf = H * 1.0

    if BILINEAR:
        u0 = tl.floor(u)
        v0 = tl.floor(v)
        fu = u - u0
        fv = v - v0
        # the four taps in the reference's order (du outer, dv inner), each weighted only if valid
        s, w = _tap(frame, u0, v0, (1 - fu) * (1 - fv), use, W, wf, hf)
        num = w * s
        den = w
        s, w = _tap(frame, u0, v0 + 1, (1 - fu) * fv, use, W, wf, hf)
        num += w * s
        den += w
        s, w = _tap(frame, u0 + 1, v0, fu * (1 - fv), use, W, wf, hf)
        num += w * s
        den += w
        s, w = _tap(frame, u0 + 1, v0 + 1, fu * fv, use, W, wf, hf)
        num += w * s
        den += w
        sampled = tl.where(den > 1e-6, num / tl.maximum(den, 1e-6), 0.0)
    else:
        sampled = _pixel(frame, tl.floor(u + 0.5), tl.floor(v + 0.5), use, W, wf, hf)

    n = (sampled - dc) / half  # geometry.normalize_depth
    out = tl.where(use & (sampled > 0) & (tl.abs(n) <= 1), n, 1.0)  # outside the cube or missing → 1
    tl.store(out_ptr + b.to(tl.int64) * S * S + k, out, mask=live)


def crop_triton(depth: torch.Tensor, centers: torch.Tensor, cube: torch.Tensor, cam: torch.Tensor, *,
                size: int, mode: str) -> torch.Tensor:
    """depth (B, H, W) contiguous, centers (B, 3), cube (B, 3), cam (B, 4) float32 contiguous → (B, 1, S, S).

    Inputs are validated by crop.crop_resize_normalize.
    """
    b, h, w = depth.shape
    out = torch.empty(b, 1, size, size, device=depth.device, dtype=torch.float32)
    grid = (b, triton.cdiv(size * size, BLOCK))
    # 1/S − 1 is rounded from double once on the host, exactly as torch rounds the scalar in crop_affine
    _crop_kernel[grid](depth, centers, cube, cam, out, h, w, size, 1.0 / size - 1.0,
                       BILINEAR=mode == "bilinear", BLOCK=BLOCK,
                       enable_fp_fusion=False)  # no FMA: sample positions round like the reference's mul + add
    return out
