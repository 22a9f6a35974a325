"""Synthetic depth frames for testing and benchmarking the kernels: a hand-sized ellipsoid in front of a wall.

Not a hand model (lfsdk.data renders hands); just enough structure for the centre, crop and timing to mean
something: a near blob, a far background, and missing (0) pixels.
"""
from __future__ import annotations

import torch

__all__ = ["blob_frames"]


def blob_frames(b: int, h: int, w: int, *, seed: int = 0, wall: float = 1500.0, holes: float = 0.02,
                device=None) -> torch.Tensor:
    """(B, H, W) uint16 mm: per frame an ellipsoid blob (radius 0.14–0.26·min(H, W) px, 400–800 mm) at a
    random position in the central 80 % of the image, a wall at `wall` mm, and a fraction `holes` of pixels
    set to 0 (missing). With a camera of fx ≈ 0.9·W the blob fills about half of a 250 mm cube's box."""
    g = torch.Generator().manual_seed(seed)
    cu = (0.1 + 0.8 * torch.rand(b, generator=g)) * w
    cv = (0.1 + 0.8 * torch.rand(b, generator=g)) * h
    cd = 400 + torch.rand(b, generator=g) * 400
    r = 0.2 * min(h, w) * (0.7 + 0.6 * torch.rand(b, generator=g))
    rows = torch.arange(h, dtype=torch.float32)[None, :, None]
    cols = torch.arange(w, dtype=torch.float32)[None, None, :]
    q = ((cols - cu[:, None, None]) ** 2 + (rows - cv[:, None, None]) ** 2) / r[:, None, None] ** 2
    blob = cd[:, None, None] - 60 * (1 - q).clamp_min(0).sqrt()  # nearer in the middle, 60 mm deep
    depth = torch.where(q < 1, blob, torch.full_like(blob, wall))
    depth = torch.where(torch.rand(b, h, w, generator=g) < holes, 0.0, depth)
    return depth.round().to(torch.uint16).to(device)
