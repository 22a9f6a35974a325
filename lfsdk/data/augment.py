"""The paper's training augmentation (III-E.2), applied to a batch of crops and their joints together.

Each sample gets a random in-plane transform about the crop centre: translation ±10 crop pixels, scale
0.9–1.1, rotation ±15° about the camera axis. In normalised cube coordinates (geometry module) a joint
n = (x, y, z) maps to

    (x', y') = s · R(θ) · (x, y) + t,    z' = s · z,    t = 2 · shift_px / S

and the crop is resampled so that its content moves the same way: a hand s times larger about the cube
centre, so hand depths (normalised, i.e. relative to the centre) scale by s too, and background stays 1.
Rotation in normalised (u, v) is rotation in pixels because the presets' cameras have fx = fy.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["AugmentConfig", "sample_params", "augment_batch", "transform_joints"]


@dataclass(frozen=True)
class AugmentConfig:
    shift_px: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    rotate_deg: float = 15.0


def sample_params(batch: int, config: AugmentConfig = AugmentConfig(),
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 4) per-sample (shift_u px, shift_v px, scale, angle rad), uniform within the config's ranges."""
    r = torch.rand(batch, 4, generator=generator)
    lo, hi = config.scale
    return torch.stack((
        (2 * r[:, 0] - 1) * config.shift_px,
        (2 * r[:, 1] - 1) * config.shift_px,
        lo + (hi - lo) * r[:, 2],
        torch.deg2rad((2 * r[:, 3] - 1) * torch.tensor(config.rotate_deg)),
    ), dim=1)


def _matrices(params: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 4) params → (A (B, 2, 2) = s·R, t (B, 2) normalised shift, s (B,))."""
    s, th = params[:, 2], params[:, 3]
    c, n = torch.cos(th), torch.sin(th)
    a = s[:, None, None] * torch.stack((torch.stack((c, -n), -1), torch.stack((n, c), -1)), -2)
    return a, 2.0 * params[:, :2] / size, s


def transform_joints(joints: torch.Tensor, params: torch.Tensor, size: int = 128) -> torch.Tensor:
    """(B, M, 3) normalised joints → the same joints after each sample's transform (see module doc)."""
    a, t, s = _matrices(params.to(joints), size)
    xy = torch.einsum("bij,bmj->bmi", a, joints[..., :2]) + t[:, None]
    return torch.cat((xy, joints[..., 2:] * s[:, None, None]), dim=-1)


def augment_batch(crops: torch.Tensor, joints: torch.Tensor, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """crops (B, 1, S, S) in [-1, 1] (background 1), joints (B, M, 3), params (B, 4) from sample_params →
    (crops, joints) transformed together. Nearest-neighbour resampling, so no depth is blended across an
    edge; pixels that come from outside the crop are background (1)."""
    if crops.dim() != 4 or crops.shape[1] != 1 or crops.shape[2] != crops.shape[3]:
        raise ValueError(f"crops must be (B, 1, S, S), got {tuple(crops.shape)}")
    if params.shape != (crops.shape[0], 4):
        raise ValueError(f"params must be ({crops.shape[0]}, 4), got {tuple(params.shape)}")
    size = crops.shape[-1]
    p = params.to(device=crops.device, dtype=torch.float32)
    a, t, s = _matrices(p, size)
    # Output pixel at n_out reads the input at A⁻¹(n_out − t); affine_grid takes that inverse map.
    inv = torch.linalg.inv(a)
    theta = torch.cat((inv, -(inv @ t[:, :, None])), dim=2)
    grid = F.affine_grid(theta, list(crops.shape), align_corners=False)  # pixel centres, as geometry's grid
    moved = F.grid_sample(crops.float() - 1.0, grid, mode="nearest", padding_mode="zeros", align_corners=False) + 1.0
    hand = moved < 1.0
    out = torch.where(hand, (moved * s[:, None, None, None]).clamp(-1.0, 1.0), torch.ones_like(moved))
    return out.to(crops.dtype), transform_joints(joints, p, size)
