"""Training loss (paper eq. 5–6): L = L_f + Σ_i L_i, each a smooth-L1 between joints and ground truth."""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .network import ModelOutput

__all__ = ["LossTerms", "latent_fusion_loss"]


class LossTerms(NamedTuple):
    total: torch.Tensor  # scalar, L_f + Σ L_i
    fused: torch.Tensor  # scalar, L_f
    branches: torch.Tensor  # (3,), L_i


def latent_fusion_loss(output: ModelOutput, target: torch.Tensor, beta: float = 1.0) -> LossTerms:
    """Eq. 6 on normalised cube coordinates.

    Args:
        output: the network's ModelOutput (joints (B,M,3), branch_joints (B,3,M,3)).
        target: (B,M,3) ground-truth joints in the same normalised cube.
        beta: smooth-L1 transition point (Fast R-CNN's definition is beta=1).
    """
    if target.shape != output.joints.shape:
        raise ValueError(f"target must be {tuple(output.joints.shape)}, got {tuple(target.shape)}")
    fused = F.smooth_l1_loss(output.joints, target, beta=beta)
    per_branch = F.smooth_l1_loss(
        output.branch_joints, target[:, None].expand_as(output.branch_joints), beta=beta, reduction="none"
    ).mean(dim=(0, 2, 3))
    return LossTerms(fused + per_branch.sum(), fused, per_branch)
