"""Hand candidates: the frame peeled into depth-band regions, nearest first, kept when hand-sized in mm.

Each round takes, per frame, the nearest cell not yet claimed that is linked to all four neighbours (so a
flying pixel or speck never seeds), and floods from it through linked cells at most `band` mm behind it.
The region is claimed whatever it is; it becomes a candidate when its area and spread in millimetres (from
the camera intrinsics and the depth) fit a hand: a desk edge, a wall, a table or a torso's front is too big,
a speck too small. A hand on an arm keeps the arm's first `band` mm; the estimator re-centres on the palm.

    cands = find_candidates(depth, camera, max_candidates=3)   # depth (B, H, W) mm, torch on CPU or CUDA
    cands.frame, cands.mask, cands.features                    # (K,), (K, H, W), (K, F)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from lfsdk.kernels.inputs import depth_float

from .grid import Links, cell_links, flood, grid_stride, interior, min_pool, upsample

__all__ = ["BLOB_FEATURES", "Candidates", "LocalizeConfig", "find_candidates"]

#: the per-candidate blob features, in `Candidates.features` column order
BLOB_FEATURES = ("log_area", "spread_major", "spread_middle", "spread_minor", "depth", "border", "round")


@dataclass(frozen=True)
class LocalizeConfig:
    """Segmentation settings. Lengths in mm; spreads are standard deviations of a region's 3D points along
    its principal axes (a hand alone is about 55 mm along its length, a hand with 150 mm of arm about 90)."""

    grid_width: int = 80  # cells across a frame (stride = round(W / grid_width) px)
    band: float = 150.0  # a region reaches this far behind its seed
    jump: float = 20.0  # neighbours link when |Δd| ≤ jump + slope · cell size
    slope: float = 3.0
    near: float = 10.0  # valid depth range
    far: float = 2000.0
    min_area: float = 1500.0  # mm², seen surface
    max_area: float = 60000.0
    max_spread: float = 140.0
    max_rounds: int = 8

    def __post_init__(self):
        for k, v in asdict(self).items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v == v or v < 0:
                raise ValueError(f"LocalizeConfig.{k} must be a number ≥ 0, got {v!r}")
        if self.grid_width < 4 or self.max_rounds < 1 or self.near >= self.far or self.min_area > self.max_area:
            raise ValueError(f"LocalizeConfig needs grid_width ≥ 4, max_rounds ≥ 1, near < far and "
                             f"min_area ≤ max_area, got {self}")


class Candidates(NamedTuple):
    frame: torch.Tensor  # (K,) long, the frame each candidate is in, ascending; nearest first within a frame
    mask: torch.Tensor  # (K, H, W) bool, the candidate's pixels at full resolution
    box: torch.Tensor  # (K, 4) float (u0, v0, u1, v1) px around the mask
    features: torch.Tensor  # (K, len(BLOB_FEATURES)) float32


class _Grid(NamedTuple):
    cells: torch.Tensor  # (B, h, w) nearest depth per cell, 0 = empty
    xyz: torch.Tensor  # (B, h, w, 3) cell centres in camera mm
    area: torch.Tensor  # (B, h, w) mm² a cell covers at its depth
    links: Links
    stride: int


def _grid(d: torch.Tensor, valid: torch.Tensor, cam: torch.Tensor, cfg: LocalizeConfig) -> _Grid:
    s = grid_stride(d.shape[2], cfg.grid_width)
    cells = min_pool(d, valid, s)
    _, h, w = cells.shape
    k = cam[:, :, None, None]  # (B, 4, 1, 1)
    u = (torch.arange(w, device=d.device, dtype=torch.float32) * s + (s - 1) / 2)[None, None]
    v = (torch.arange(h, device=d.device, dtype=torch.float32) * s + (s - 1) / 2)[None, :, None]
    xyz = torch.stack(((u - k[:, 2]) * cells / k[:, 0], (v - k[:, 3]) * cells / k[:, 1], cells), -1)
    size_x = s * cells / k[:, 0]
    # area: the cell's pixels on its surface (not behind an edge) times a pixel's footprint at that depth
    on = valid & (d <= upsample(cells + cfg.jump + cfg.slope * size_x, s, *d.shape[1:]))
    count = F.avg_pool2d(F.pad(on.float(), (0, -d.shape[2] % s, 0, -d.shape[1] % s))[:, None], s)[:, 0] * s * s
    area = count * (cells / k[:, 0]) * (cells / k[:, 1])
    return _Grid(cells, xyz, area, cell_links(cells, size_x, cfg.jump, cfg.slope), s)


def _region_stats(region: torch.Tensor, g: _Grid, round_: int) -> torch.Tensor:
    """region (B, h, w) → (B, len(BLOB_FEATURES)) features; zeros for empty regions."""
    m = region.float()
    n = m.sum(dim=(1, 2)).clamp_min(1.0)
    area = (m * g.area).sum(dim=(1, 2))
    mean = (m[..., None] * g.xyz).sum(dim=(1, 2)) / n[:, None]  # (B, 3)
    dev = (g.xyz - mean[:, None, None]) * m[..., None]
    cov = torch.einsum("bhwi,bhwj->bij", dev, dev) / n[:, None, None]
    spread = torch.linalg.eigvalsh(cov).clamp_min(0).sqrt().flip(-1)  # (B, 3) major first
    edge = torch.zeros_like(region)
    edge[:, 0], edge[:, -1], edge[:, :, 0], edge[:, :, -1] = True, True, True, True
    border = (region & edge).sum(dim=(1, 2)) / n
    return torch.stack((area.clamp_min(1.0).log(), *spread.unbind(-1), mean[:, 2], border,
                        torch.full_like(area, float(round_))), -1)


def _boxes(mask: torch.Tensor) -> torch.Tensor:
    """(K, H, W) bool → (K, 4) (u0, v0, u1, v1) px of the pixels set."""
    _, h, w = mask.shape
    cols, rows = mask.any(dim=1), mask.any(dim=2)
    cu = torch.arange(w, device=mask.device, dtype=torch.float32)
    rv = torch.arange(h, device=mask.device, dtype=torch.float32)
    big = float(max(h, w))
    return torch.stack((torch.where(cols, cu, big).amin(1), torch.where(rows, rv, big).amin(1),
                        torch.where(cols, cu, -1.0).amax(1), torch.where(rows, rv, -1.0).amax(1)), -1)


def _peel(g: _Grid, cfg: LocalizeConfig, max_candidates: int) -> tuple[list, list, list]:
    """Rounds of nearest-seed band floods. Returns per round: regions (B, h, w), features, accepted (B,)."""
    seedable = interior(g.links)
    free = g.cells > 0
    count = torch.zeros(g.cells.shape[0], dtype=torch.long, device=g.cells.device)
    regions, feats, accepted = [], [], []
    for r in range(int(cfg.max_rounds)):
        key = torch.where(free & seedable & (count < max_candidates)[:, None, None], g.cells, float("inf"))
        dmin, idx = key.flatten(1).min(dim=1)
        active = dmin.isfinite()
        if not bool(active.any()):
            break
        seed = torch.zeros_like(free).flatten(1)
        seed[torch.arange(len(idx), device=idx.device), idx] = active
        region = flood(seed.view_as(free), free & (g.cells <= dmin[:, None, None] + cfg.band), g.links)
        f = _region_stats(region, g, r)
        area = f[:, 0].exp()
        ok = active & (area >= cfg.min_area) & (area <= cfg.max_area) & (f[:, 1] <= cfg.max_spread)
        free = free & ~region
        count = count + ok
        regions.append(region)
        feats.append(f)
        accepted.append(ok)
    return regions, feats, accepted


def find_candidates(depth: torch.Tensor, camera: torch.Tensor, max_candidates: int = 3,
                    config: LocalizeConfig = LocalizeConfig()) -> Candidates:
    """Up to `max_candidates` hand-sized regions per frame, nearest first.

    depth: (B, H, W) mm tensor (any lfsdk depth dtype; 0 = missing), camera: (B, 4) float (fx, fy, cx, cy)
    on depth's device. Returns Candidates with K ≤ B·max_candidates rows; K is known only after one host
    sync per round (the loop stops when every frame is done)."""
    d = depth_float(depth)
    b, h, w = d.shape
    valid = (d > config.near) & (d < config.far)
    g = _grid(d, valid, camera, config)
    regions, feats, accepted = _peel(g, config, max_candidates)
    if not regions:
        empty = torch.zeros(0, dtype=torch.long, device=d.device)
        return Candidates(empty, torch.zeros(0, h, w, dtype=torch.bool, device=d.device),
                          torch.zeros(0, 4, device=d.device), torch.zeros(0, len(BLOB_FEATURES), device=d.device))
    ok = torch.stack(accepted, 1)  # (B, R): rounds run nearest first, so row order is depth order
    frame, rnd = ok.nonzero(as_tuple=True)
    cells = torch.stack(regions, 1)[frame, rnd]  # (K, h, w)
    tol = config.jump + config.slope * g.stride * g.cells / camera[:, 0, None, None]
    near_cell = d[frame] <= upsample(g.cells + tol, g.stride, h, w)[frame]  # drop the far side of edge cells
    mask = upsample(cells, g.stride, h, w) & valid[frame] & near_cell
    return Candidates(frame, mask, _boxes(mask), torch.stack(feats, 1)[frame, rnd])
