"""A candidate's pixels within a ball around a point (its palm): where to crop, and what the hand looks like.

The ball is sampled as a small crop (lfsdk.kernels.crop_resize_normalize, Triton on CUDA) of a cube 2·radius
wide centred on the point: in its normalised coordinates a sample (x, y, z) lies in the ball when
x² + y² + z² ≤ 1, so the arm beyond the wrist, a torso behind or a second hand beside drop out.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from lfsdk.geometry import crop_pixel_grid, cube_to_uvd
from lfsdk.kernels import crop_resize_normalize

__all__ = ["BALL_FEATURES", "Ball", "ball", "ball_center", "ball_features"]

#: features of the pixels in the ball: its seen area, spreads along its principal axes (mm) and how much of
#: the ball's disk it fills
BALL_FEATURES = ("ball_log_area", "ball_spread_major", "ball_spread_middle", "ball_spread_minor", "ball_fill")
SIZE = 48  # samples across the ball


class Ball(NamedTuple):
    points: torch.Tensor  # (K, S·S, 3) normalised (x, y, z) of the samples
    inside: torch.Tensor  # (K, S·S) float 1/0: the sample is a candidate pixel inside the ball
    radius: float


def ball(masked: torch.Tensor, center_uvd: torch.Tensor, cams: torch.Tensor, radius: float) -> Ball:
    """masked (K, H, W) depth (0 outside the candidate), center_uvd (K, 3), cams (K, 4) → Ball."""
    cube = (2.0 * radius,) * 3
    z = crop_resize_normalize(masked, center_uvd, cube, cams, SIZE, "nearest")[:, 0]  # 1 = outside or missing
    g = crop_pixel_grid(SIZE, device=z.device)
    x, y = g[None, None, :].expand_as(z), g[None, :, None].expand_as(z)
    pts = torch.stack((x, y, z), -1).reshape(len(z), SIZE * SIZE, 3)
    inside = ((z < 1) & (x * x + y * y + z * z <= 1)).reshape(len(z), SIZE * SIZE).float()
    return Ball(pts, inside, float(radius))


def ball_center(b: Ball, center_uvd: torch.Tensor, cams: torch.Tensor) -> torch.Tensor:
    """(K, 3) uvd centre of mass of the ball's pixels (in uvd, as the training crops' rule takes it); the
    ball's centre where it holds none."""
    n = b.inside.sum(1)
    mean = (b.points * b.inside[..., None]).sum(1) / n.clamp_min(1)[:, None]
    uvd = cube_to_uvd(mean[:, None], center_uvd, (2.0 * b.radius,) * 3, cams)[:, 0]
    return torch.where((n > 0)[:, None], uvd, center_uvd)


def ball_features(b: Ball) -> torch.Tensor:
    """(K, len(BALL_FEATURES)): log seen area (mm², at the ball centre's depth), the spreads (standard
    deviations along principal axes, mm) and the share of the ball's disk (x² + y² ≤ 1) the pixels fill."""
    n = b.inside.sum(1)
    pix_mm2 = (2.0 * b.radius / SIZE) ** 2
    mm = b.points * b.radius
    mean = (mm * b.inside[..., None]).sum(1) / n.clamp_min(1)[:, None]
    dev = (mm - mean[:, None]) * b.inside[..., None]
    cov = dev.transpose(1, 2) @ dev / n.clamp_min(1)[:, None, None]
    spread = torch.linalg.eigvalsh(cov.double()).clamp_min(0).sqrt().flip(-1).float()
    disk = (b.points[..., :2] ** 2).sum(-1) <= 1
    fill = (b.inside * disk).sum(1) / disk.sum(1)
    return torch.stack(((n * pix_mm2).clamp_min(1).log(), *spread.unbind(-1), fill), -1)
