"""Triton kernels for the hand centre (match center.hand_center_reference). Imported only when used.

Each frame is split into `chunks` contiguous pixel ranges so that a small batch still fills the GPU, and the
reduction runs as a few launches over a (B, chunks) grid with a deterministic workspace, never atomics:
  1. _min_kernel: per chunk, the nearest valid depth;
  2. _sums_kernel (band): per chunk, the masked sums (count, Σu, Σv, Σd) of the band behind the frame's
     nearest depth (the min over the chunk minima);
  3. _finish_kernel: per frame, centre = sums / count, `found` = count > 0 (no division by zero);
  with refine, 2–3 again: _sums_kernel (box) walks the flat index range of the cube's projected box around
  the first centre, and _finish_kernel replaces the centre where that box held a valid pixel.
At large batch `chunks` is 1–2 and each program streams a whole frame; at batch 1 it is hundreds.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["hand_center_triton", "chunks_per_frame"]

BLOCK = 1024
MAX_CHUNKS = 1024  # the finishing reductions load one frame's chunk results as a single block


@triton.jit
def _min_kernel(depth_ptr, mins_ptr, n_pix, n_chunks, chunk, near, far, BLOCK: tl.constexpr):
    b = tl.program_id(0)
    c = tl.program_id(1)
    frame = depth_ptr + b.to(tl.int64) * n_pix
    lo = tl.full([BLOCK], float("inf"), tl.float32)
    end = tl.minimum(c * chunk + chunk, n_pix)
    for start in range(c * chunk, end, BLOCK):
        idx = start + tl.arange(0, BLOCK)
        d = tl.load(frame + idx, mask=idx < end, other=0).to(tl.float32)
        lo = tl.minimum(lo, tl.where((d > near) & (d < far), d, float("inf")))
    tl.store(mins_ptr + b * n_chunks + c, tl.min(lo, axis=0))


@triton.jit
def _cube_box(uvd_ptr, found_ptr, cam_ptr, cube_ptr, b, H, W):
    """Frame b's pixel box around its first centre, with geometry.crop_half_extent's float32 operations:
    (pixel count, box width, first column, first row, centre u, v, d, half extents u, v, d)."""
    ok = tl.load(found_ptr + b) != 0
    uc = tl.where(ok, tl.load(uvd_ptr + b * 3), 1.0)
    vc = tl.where(ok, tl.load(uvd_ptr + b * 3 + 1), 1.0)
    zc = tl.where(ok, tl.load(uvd_ptr + b * 3 + 2), 1.0)
    hu = tl.load(cube_ptr + b * 3) / 2 * tl.load(cam_ptr + b * 4) / zc
    hv = tl.load(cube_ptr + b * 3 + 1) / 2 * tl.load(cam_ptr + b * 4 + 1) / zc
    hd = tl.load(cube_ptr + b * 3 + 2) / 2
    # loop bounds cover the box with a pixel to spare, clamped in float first so a huge box cannot
    # overflow int32; the exact test per pixel is the reference's
    c0 = tl.maximum(uc - hu - 1.0, 0.0).to(tl.int32)
    c1 = tl.minimum(uc + hu + 1.0, (W - 1) * 1.0).to(tl.int32)
    r0 = tl.maximum(vc - hv - 1.0, 0.0).to(tl.int32)
    r1 = tl.minimum(vc + hv + 1.0, (H - 1) * 1.0).to(tl.int32)
    bw = c1 - c0 + 1
    n = tl.where(ok & (bw > 0) & (r1 >= r0), bw * (r1 - r0 + 1), 0)  # NaN or ≤ 0 sizes: empty box
    return n, bw, c0, r0, uc, vc, zc, hu, hv, hd


@triton.jit
def _sums_kernel(depth_ptr, mins_ptr, uvd_ptr, found_ptr, cam_ptr, cube_ptr, part_ptr, H, W, n_chunks, chunk,
                 near, far, band, BOX: tl.constexpr, NC: tl.constexpr, BLOCK: tl.constexpr):
    """part[b, c] = (count, Σu, Σv, Σd) over chunk c of the band (BOX=False) or of the cube's box (BOX=True)."""
    b = tl.program_id(0)
    c = tl.program_id(1)
    frame = depth_ptr + b.to(tl.int64) * H * W
    offs = tl.arange(0, BLOCK)
    if BOX:
        n, bw, c0, r0, uc, vc, zc, hu, hv, hd = _cube_box(uvd_ptr, found_ptr, cam_ptr, cube_ptr, b, H, W)
        limit = 0.0
    else:
        m = tl.load(mins_ptr + b * n_chunks + tl.arange(0, NC), mask=tl.arange(0, NC) < n_chunks,
                    other=float("inf"))
        limit = tl.min(m, axis=0) + band
        n = H * W
        bw = W
        c0 = 0
        r0 = 0
        uc = 0.0
        vc = 0.0
        zc = 0.0
        hu = 0.0
        hv = 0.0
        hd = 0.0
    cnt = tl.zeros([BLOCK], tl.float32)  # per-lane partial sums keep the float32 sums short
    su = tl.zeros([BLOCK], tl.float32)
    sv = tl.zeros([BLOCK], tl.float32)
    sd = tl.zeros([BLOCK], tl.float32)
    end = tl.minimum(c * chunk + chunk, n)
    for start in range(c * chunk, end, BLOCK):
        k = start + offs
        live = k < end
        row = r0 + k // bw
        col = c0 + (k - (row - r0) * bw)
        d = tl.load(frame + row * W + col, mask=live, other=0).to(tl.float32)
        colf = col.to(tl.float32)
        rowf = row.to(tl.float32)
        sel = live & (d > near) & (d < far)
        if BOX:
            sel = sel & (tl.abs(colf - uc) <= hu) & (tl.abs(rowf - vc) <= hv) & (tl.abs(d - zc) <= hd)
        else:
            sel = sel & (d <= limit)
        cnt += sel.to(tl.float32)
        su += tl.where(sel, colf, 0.0)
        sv += tl.where(sel, rowf, 0.0)
        sd += tl.where(sel, d, 0.0)
    out = part_ptr + (b * n_chunks + c) * 4
    tl.store(out, tl.sum(cnt, axis=0))
    tl.store(out + 1, tl.sum(su, axis=0))
    tl.store(out + 2, tl.sum(sv, axis=0))
    tl.store(out + 3, tl.sum(sd, axis=0))


@triton.jit
def _finish_kernel(part_ptr, uvd_ptr, found_ptr, n_chunks, FIRST: tl.constexpr, NC: tl.constexpr):
    """Centre = sums / count per frame. FIRST: write it (0 where count = 0) and `found`; else (refine)
    replace the stored centre only where count > 0."""
    b = tl.program_id(0)
    i = tl.arange(0, NC)
    live = i < n_chunks
    p = part_ptr + (b * n_chunks + i) * 4
    n = tl.sum(tl.load(p, mask=live, other=0.0), axis=0)
    denom = tl.maximum(n, 1.0)
    u = tl.sum(tl.load(p + 1, mask=live, other=0.0), axis=0) / denom
    v = tl.sum(tl.load(p + 2, mask=live, other=0.0), axis=0) / denom
    z = tl.sum(tl.load(p + 3, mask=live, other=0.0), axis=0) / denom
    if FIRST:
        tl.store(found_ptr + b, (n > 0).to(tl.int8))
        tl.store(uvd_ptr + b * 3, u)
        tl.store(uvd_ptr + b * 3 + 1, v)
        tl.store(uvd_ptr + b * 3 + 2, z)
    else:
        if n > 0:
            tl.store(uvd_ptr + b * 3, u)
            tl.store(uvd_ptr + b * 3 + 1, v)
            tl.store(uvd_ptr + b * 3 + 2, z)


def chunks_per_frame(b: int, n_pix: int, device: torch.device) -> int:
    """How many programs share one frame: enough for ~4 programs per SM in all, at most one per BLOCK."""
    target = 4 * torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else 1
    return max(1, min(triton.cdiv(target, max(b, 1)), triton.cdiv(n_pix, BLOCK), MAX_CHUNKS))


def hand_center_triton(depth: torch.Tensor, cam: torch.Tensor, cube: torch.Tensor, *, band: float, near: float,
                       far: float, refine: bool, chunks: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """depth (B, H, W) contiguous, cam (B, 4), cube (B, 3) float32 → (uvd (B, 3) float32, found (B,) bool).

    uvd is 0 where not found. chunks: programs per frame (default chunks_per_frame; tests force several).
    Inputs are validated by center.hand_center.
    """
    b, h, w = depth.shape
    n_pix = h * w
    nc = chunks_per_frame(b, n_pix, depth.device) if chunks is None else max(1, min(int(chunks), MAX_CHUNKS))
    chunk = triton.cdiv(triton.cdiv(n_pix, nc), BLOCK) * BLOCK  # whole BLOCKs per chunk
    nc = triton.cdiv(n_pix, chunk)
    np2 = triton.next_power_of_2(nc)
    dev = depth.device
    mins = torch.empty(b, nc, device=dev, dtype=torch.float32)
    part = torch.empty(b, nc, 4, device=dev, dtype=torch.float32)
    uvd = torch.empty(b, 3, device=dev, dtype=torch.float32)
    found = torch.empty(b, device=dev, dtype=torch.int8)
    grid = (b, nc)
    _min_kernel[grid](depth, mins, n_pix, nc, chunk, near, far, BLOCK=BLOCK)
    _sums_kernel[grid](depth, mins, uvd, found, cam, cube, part, h, w, nc, chunk, near, far, band,
                       BOX=False, NC=np2, BLOCK=BLOCK)
    _finish_kernel[(b,)](part, uvd, found, nc, FIRST=True, NC=np2)
    if refine:  # the box lies inside the frame, so the frame's chunking covers its flat index range
        _sums_kernel[grid](depth, mins, uvd, found, cam, cube, part, h, w, nc, chunk, near, far, band,
                           BOX=True, NC=np2, BLOCK=BLOCK)
        _finish_kernel[(b,)](part, uvd, found, nc, FIRST=False, NC=np2)
    return uvd, found.bool()
