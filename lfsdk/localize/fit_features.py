"""How well a predicted skeleton explains its crop: features for the hand score and for handedness.

Everything is in the crop's normalised cube (x, y, z in [-1, 1]; crop pixel k at (2k + 1)/S − 1; depth
value 1 = background or missing), so the features do not depend on the camera or the hand's distance.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["FIT_FEATURES", "fit_features"]

#: the per-candidate fit features, in fit_features' column order
FIT_FEATURES = ("joint_residual", "joints_on_surface", "coverage", "branch_spread", "fusion_max", "bone_residual",
                "bones_on_surface", "bones_off_hand", "silhouette_iou", "silhouette_residual")
_RADIUS = 0.09  # a bone's flesh radius in the normalised cube (11 mm in a 250 mm cube)
_NEAR = 0.16  # 20 mm in a 250 mm cube: a joint lies within its finger's radius behind the surface
_COVER = 0.2  # a foreground pixel is explained when a joint lies within 25 mm of it (in the image plane)
_GRID = 32  # coverage is measured on the crop pooled to 32×32


def _sample(crops: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """crops (K, 1, S, S), xy (K, M, 2) normalised → (K, M) crop depth at each joint (nearest pixel)."""
    s = crops.shape[-1]
    idx = torch.floor((xy + 1) * s / 2).long().clamp(0, s - 1)  # inverse of (2k + 1)/S − 1, rounded
    flat = crops[:, 0].reshape(len(crops), s * s)
    return torch.gather(flat, 1, idx[..., 1] * s + idx[..., 0])


def _bone_points(joints: torch.Tensor, bones: torch.Tensor) -> torch.Tensor:
    """joints (K, M, 3), bones (N, 2) child/parent indices → (K, 3N, 3) points at ¼, ½, ¾ along each bone."""
    a, b = joints[:, bones[:, 0]], joints[:, bones[:, 1]]
    return torch.cat([a + t * (b - a) for t in (0.25, 0.5, 0.75)], 1)


def _silhouette(pooled: torch.Tensor, pix: torch.Tensor, joints: torch.Tensor, bones: torch.Tensor):
    """The skeleton drawn as capsules of radius _RADIUS against the pooled crop (K, g, g): (IoU of the drawn
    and the seen foreground, mean |drawn surface depth − seen depth| where both, clamped at 1)."""
    a, b = joints[:, bones[:, 0]], joints[:, bones[:, 1]]  # (K, N, 3)
    ab = b - a
    t = (((pix[:, :, None, :] - a[:, None, :, :2]) * ab[:, None, :, :2]).sum(-1)
         / (ab[:, None, :, :2] ** 2).sum(-1).clamp_min(1e-6)).clamp(0, 1)  # (K, P, N)
    near = a[:, None] + t[..., None] * ab[:, None]  # closest bone points
    dist = (pix[:, :, None, :] - near[..., :2]).norm(dim=-1)
    z = torch.where(dist <= _RADIUS, near[..., 2] - _RADIUS, float("inf")).amin(-1)  # (K, P)
    drawn = z.isfinite()
    seen = pooled.reshape(len(pooled), pooled.shape[-2] * pooled.shape[-1])
    fg = seen < 0.999
    iou = (drawn & fg).sum(1) / (drawn | fg).sum(1).clamp_min(1)
    both = drawn & fg
    resid = torch.where(both, (torch.where(drawn, z, 0.0) - seen).abs().clamp_max(1), 0.0).sum(1)
    return iou.float(), resid / both.sum(1).clamp_min(1)


def fit_features(crops: torch.Tensor, joints: torch.Tensor, branch_joints: torch.Tensor,
                 fusion_weights: torch.Tensor, bones: torch.Tensor | None = None) -> torch.Tensor:
    """crops (K, 1, S, S), joints (K, M, 3), branch_joints (K, 3, M, 3), fusion_weights (K, 3), all in the
    normalised cube of the crop → (K, len(FIT_FEATURES)) float32:

    joint_residual: mean over joints of min(|surface depth − joint depth|, 1) at the joint's pixel;
    joints_on_surface: share of joints with the surface at most _NEAR in front of them or behind them;
    bone_residual, bones_on_surface: the same at points along the bones (bones (N, 2) child/parent joint
    indices; the joints themselves when None); bones_off_hand: share of those points over background;
    coverage: share of the crop's foreground (depth < 1) within _COVER of a joint in the image plane;
    branch_spread: mean distance of the three branches' joints from their mean; fusion_max: max μ."""
    surface = _sample(crops, joints[..., :2])
    resid = surface - joints[..., 2]  # < 0: surface in front of the joint, as it should be
    on = (resid.abs() <= _NEAR).float().mean(1)
    pooled = -F.max_pool2d(-crops, crops.shape[-1] // _GRID)[:, 0] if crops.shape[-1] >= _GRID else crops[:, 0]
    g = pooled.shape[-1]
    grid = (2 * torch.arange(g, device=crops.device, dtype=torch.float32) + 1) / g - 1
    pix = torch.stack(torch.meshgrid(grid, grid, indexing="xy"), -1).reshape(1, g * g, 2)
    fg = (pooled < 0.999).reshape(len(crops), g * g)
    near = (torch.cdist(pix.expand(len(crops), -1, -1), joints[..., :2].float()).amin(-1) <= _COVER)
    coverage = (fg & near).sum(1) / fg.sum(1).clamp_min(1)
    spread = (branch_joints - branch_joints.mean(1, keepdim=True)).norm(dim=-1).mean(dim=(1, 2))
    has_bones = bones is not None and len(bones) > 0
    pts = _bone_points(joints, bones) if has_bones else joints
    iou, sil = (_silhouette(pooled, pix.expand(len(crops), -1, -1), joints.float(), bones) if has_bones
                else (coverage.float(), resid.abs().clamp_max(1).mean(1)))
    along = _sample(crops, pts[..., :2])
    bres = (along - pts[..., 2]).abs()
    return torch.stack((resid.abs().clamp_max(1).mean(1), on, coverage.float(), spread, fusion_weights.amax(-1),
                        bres.clamp_max(1).mean(1), (bres <= _NEAR).float().mean(1),
                        (along >= 0.999).float().mean(1), iou, sil), -1).float()
