"""Depth by ray casting on any torch device: every pixel's ray of a batch of frames against every capsule
(a xyz, b xyz, radius) of its frame, brute force, a per-pixel minimum keeping the nearest hit.

The same ray–capsule intersection as lfsdk.data.raycast (Quilez: the infinite cylinder, clipped to the
segment, else the nearer end sphere), written with the cancellation-free forms
baba·oaoa − baoa² = |ba × oa|² and baba·rdoa − baoa·bard = (ba × rd)·(ba × oa), so float32 stays accurate
at camera distances. Work is chunked over capsules and frames so no intermediate holds more than about
`max_elements` values.
"""
from __future__ import annotations

import torch

from lfsdk.geometry import Camera

__all__ = ["pixel_rays_torch", "raycast_capsules_torch", "MAX_ELEMENTS"]

#: Default bound on frames × pixels × capsules in one pass (each intermediate tensor holds this many values).
MAX_ELEMENTS = 1 << 26


def pixel_rays_torch(camera: Camera, h: int, w: int, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(H·W, 3) unit ray directions through pixel centres (u = col, v = row), row-major like raycast.pixel_rays."""
    v, u = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float64),
                          torch.arange(w, device=device, dtype=torch.float64), indexing="ij")
    d = torch.stack(((u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, torch.ones_like(u)), -1)
    return (d / d.norm(dim=-1, keepdim=True)).reshape(-1, 3).to(dtype)


def _check(caps: torch.Tensor, h: int, w: int) -> None:
    if not isinstance(caps, torch.Tensor) or caps.dim() != 3 or caps.shape[-1] != 7:
        got = tuple(caps.shape) if hasattr(caps, "shape") else type(caps).__name__
        raise ValueError(f"caps must be a (N, P, 7) tensor (a xyz, b xyz, radius), got {got}")
    if not caps.is_floating_point():
        raise ValueError(f"caps must be floating point, got {caps.dtype}")
    if int(h) < 8 or int(w) < 8:
        raise ValueError(f"image size must be (H, W) with both ≥ 8, got ({h}, {w})")


def _hit_depth(caps: torch.Tensor, rd: torch.Tensor) -> torch.Tensor:
    """Depth z (mm) of each ray's nearest hit on each capsule, inf where it misses.
    caps (N, C, 7), rd (R, 3) unit rays from the origin → (N, C, R)."""
    pa, pb, r = caps[..., :3], caps[..., 3:6], caps[..., 6:7]
    ba = pb - pa
    cross = torch.linalg.cross(ba, pa)  # ba × pa = −(ba × oa): only its square and its dot products enter
    baba = (ba * ba).sum(-1, keepdim=True)  # (N, C, 1)
    baoa = -(ba * pa).sum(-1, keepdim=True)
    qc = (cross * cross).sum(-1, keepdim=True) - r * r * baba
    rdt = rd.T
    bard = ba @ rdt  # (N, C, R)
    rdoa = -(pa @ rdt)
    qa = (baba - bard * bard).clamp_min(1e-9)
    qb = -(torch.linalg.cross(cross, ba) @ rdt)  # (ba × rd)·(ba × oa) = rd·((ba × oa) × ba)
    disc = qb * qb - qa * qc
    t = (-qb - disc.clamp_min(0).sqrt()) / qa
    y = baoa + t * bard
    body = (disc >= 0) & (y > 0) & (y < baba)
    near_a = (y <= 0) | ~torch.isfinite(y)  # which end sphere: a before the segment, else b
    cb = torch.where(near_a, rdoa, -(pb @ rdt))
    ococ = torch.where(near_a, (pa * pa).sum(-1, keepdim=True), (pb * pb).sum(-1, keepdim=True))
    disc2 = cb * cb - (ococ - r * r)
    tcap = -cb - disc2.clamp_min(0).sqrt()
    inf = torch.tensor(float("inf"), dtype=caps.dtype, device=caps.device)
    hit_t = torch.where(body, t, torch.where((disc >= 0) & (disc2 > 0), tcap, inf))
    z = hit_t * rd[:, 2]
    return torch.where(torch.isfinite(z) & (z > 0) & (r > 0), z, inf)


def raycast_capsules_torch(caps: torch.Tensor, camera: Camera, h: int, w: int, chunk: int | None = None,
                           max_elements: int = MAX_ELEMENTS) -> tuple[torch.Tensor, torch.Tensor]:
    """Z-buffer render of each frame's capsules seen from the origin, on caps' device and in its dtype.

    caps (N, P, 7) (a xyz, b xyz, radius) camera mm; rows with radius ≤ 0 are padding and never hit.
    `chunk` capsules are cast per pass (default: as many as keep frames × H × W × chunk ≤ max_elements;
    frames are split too when one capsule over all frames is already more).
    Returns depth (N, H, W) in caps' dtype, mm, 0 = none; part (N, H, W) long, the capsule seen, −1 = none.
    """
    _check(caps, h, w)
    n, p, _ = caps.shape
    h, w = int(h), int(w)
    rd = pixel_rays_torch(camera, h, w, caps.device, caps.dtype)
    frames = max(1, min(n, max_elements // (h * w)))
    chunk = max(1, min(p, chunk or max_elements // (frames * h * w)))
    depth = torch.full((n, h * w), float("inf"), dtype=caps.dtype, device=caps.device)
    part = torch.full((n, h * w), -1, dtype=torch.long, device=caps.device)
    for f0 in range(0, n, frames):
        best, arg = depth[f0:f0 + frames], part[f0:f0 + frames]  # views: updated in place
        for c0 in range(0, p, chunk):
            z, i = _hit_depth(caps[f0:f0 + frames, c0:c0 + chunk], rd).min(1)
            closer = z < best  # strict: on a tie the lower capsule index wins, as in raycast_capsules
            best.copy_(torch.where(closer, z, best))
            arg.copy_(torch.where(closer, i + c0, arg))
    hit = torch.isfinite(depth)
    return torch.where(hit, depth, 0).reshape(n, h, w), part.reshape(n, h, w)
