"""The coarse depth grid hand candidates are segmented on: min-pooled cells, continuity links, flood fill.

All functions are pure, batched over frames and run on CPU and CUDA tensors alike (no host round trip).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["Links", "cell_links", "flood", "grid_stride", "interior", "min_pool", "upsample"]


def grid_stride(width: int, grid_width: int) -> int:
    """Pooling stride that brings a frame `width` px wide to about `grid_width` cells (at least 1)."""
    return max(1, round(width / grid_width))


def min_pool(d: torch.Tensor, valid: torch.Tensor, s: int) -> torch.Tensor:
    """d, valid (B, H, W) → (B, ceil(H/s), ceil(W/s)) nearest valid depth per s×s cell, 0 where none.

    The nearest pixel, not the mean, so a thin finger survives pooling against the wall behind it."""
    far = torch.where(valid, d, torch.full_like(d, float("inf")))
    _, h, w = d.shape
    far = F.pad(far, (0, -w % s, 0, -h % s), value=float("inf"))
    cells = -F.max_pool2d(-far[:, None], s)[:, 0]
    return torch.where(cells.isfinite(), cells, torch.zeros_like(cells))


def upsample(cells: torch.Tensor, s: int, h: int, w: int) -> torch.Tensor:
    """(B, h', w') cell values → (B, H, W), each cell repeated over its s×s pixels."""
    return cells.repeat_interleave(s, dim=1).repeat_interleave(s, dim=2)[:, :h, :w]


class Links:
    """Which 4-neighbour cells belong to one surface: right (B, h, w−1) and down (B, h−1, w) bool."""

    def __init__(self, right: torch.Tensor, down: torch.Tensor):
        self.right, self.down = right, down

    def spread(self, region: torch.Tensor) -> torch.Tensor:
        """region (B, h, w) → region grown by one linked step in each of the four directions."""
        out = region.clone()
        out[:, :, 1:] |= region[:, :, :-1] & self.right
        out[:, :, :-1] |= region[:, :, 1:] & self.right
        out[:, 1:, :] |= region[:, :-1, :] & self.down
        out[:, :-1, :] |= region[:, 1:, :] & self.down
        return out

    def degree(self) -> torch.Tensor:
        """(B, h, w) int: how many of each cell's four neighbours it is linked to."""
        r, dn = self.right.to(torch.int8), self.down.to(torch.int8)
        deg = torch.zeros(r.shape[0], dn.shape[1] + 1, r.shape[2] + 1, dtype=torch.int8, device=r.device)
        deg[:, :, 1:] += r
        deg[:, :, :-1] += r
        deg[:, 1:, :] += dn
        deg[:, :-1, :] += dn
        return deg


def cell_links(cells: torch.Tensor, cell_mm: torch.Tensor, jump: float, slope: float) -> Links:
    """Link neighbouring valid cells whose depths differ by at most jump + slope·(cell size in mm).

    cells (B, h, w) depth mm (0 = empty); cell_mm (B, h, w) the lateral size of a cell at its depth. The
    slope term keeps a tilted surface (a hand seen edge-on, an arm going away) in one piece while a hand
    held in front of the body (a jump of ≥ 60 mm) is cut from it."""
    ok = cells > 0
    tol = jump + slope * cell_mm

    def link(a, b, ta, tb, oa, ob):
        return oa & ob & ((a - b).abs() <= torch.minimum(ta, tb))

    right = link(cells[:, :, :-1], cells[:, :, 1:], tol[:, :, :-1], tol[:, :, 1:], ok[:, :, :-1], ok[:, :, 1:])
    down = link(cells[:, :-1], cells[:, 1:], tol[:, :-1], tol[:, 1:], ok[:, :-1], ok[:, 1:])
    return Links(right, down)


def interior(links: Links) -> torch.Tensor:
    """(B, h, w) bool: cells linked to all four neighbours — the only cells that may seed a region, so a
    flying pixel, a speck or a one-cell sliver never starts one."""
    return links.degree() == 4


def flood(seed: torch.Tensor, allowed: torch.Tensor, links: Links, check_every: int = 8) -> torch.Tensor:
    """Cells reachable from `seed` through linked cells inside `allowed`; all (B, h, w) bool.

    Grows by one step per iteration, testing for convergence every `check_every` steps (one host sync)."""
    region = seed & allowed
    limit = region.shape[1] + region.shape[2]
    for i in range(0, limit, check_every):
        before = region
        for _ in range(check_every):
            region = links.spread(region) & allowed
        if torch.equal(before, region):
            break
    return region
