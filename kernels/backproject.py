"""Back-projection: normalised cube joints → image uvd → camera xyz mm. Torch reference (also CPU path)."""
from __future__ import annotations

import torch

from lfsdk.geometry import CameraLike, cube_to_uvd, uvd_to_xyz

__all__ = ["backproject_reference"]


def backproject_reference(norm: torch.Tensor, centers_uvd: torch.Tensor, cube,
                          camera: CameraLike) -> tuple[torch.Tensor, torch.Tensor]:
    """norm (B, M, 3) in [-1,1]³, centers_uvd (B, 3) → (uvd (B, M, 3), xyz (B, M, 3) mm)."""
    uvd = cube_to_uvd(norm.float(), centers_uvd.float(), cube, camera)
    return uvd, uvd_to_xyz(uvd, camera)
