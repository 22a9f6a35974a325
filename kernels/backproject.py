"""Back-projection: normalised cube joints → image uvd → camera xyz mm.

`backproject_reference` is the plain torch reference and the CPU path; `backproject` validates its input and
dispatches to the Triton kernel (kernels/backproject_triton.py) on CUDA tensors or to the reference elsewhere.
"""
from __future__ import annotations

from typing import Any

import torch

from lfsdk.geometry import CameraLike, cube_to_uvd, uvd_to_xyz

from .crop import usable_centers
from .inputs import as_points, frame_cameras, frame_cubes, launch_device, resolve_impl

__all__ = ["backproject", "backproject_reference"]


def backproject_reference(norm: torch.Tensor, centers_uvd: torch.Tensor, cube,
                          camera: CameraLike) -> tuple[torch.Tensor, torch.Tensor]:
    """norm (B, M, 3) in [-1,1]³, centers_uvd (B, 3) → (uvd (B, M, 3), xyz (B, M, 3) mm).

    A frame whose centre is unusable (d ≤ 0 or not finite, e.g. hand not found) gets NaN joints.
    """
    ok, c = usable_centers(centers_uvd.float())
    uvd = cube_to_uvd(norm.float(), c, cube, camera)
    uvd = torch.where(ok[:, None, None], uvd, float("nan"))
    return uvd, uvd_to_xyz(uvd, camera)


def backproject(norm: Any, centers_uvd: Any, cube: Any, camera: CameraLike, *,
                impl: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Batched post-processing: see backproject_reference for the maths.

    norm: (B, M, 3) normalised cube joints; centers_uvd: (B, 3) (the ones the crops were cut around); cube:
    (3,) or (B, 3) mm; camera: Camera, (4,) or (B, 4). impl: 'auto' (Triton on CUDA when triton imports, else
    torch), 'triton' or 'torch'. Returns (uvd (B, M, 3), xyz (B, M, 3) mm) float32 on norm's device.
    """
    n = as_points(norm, "norm", (None, None, 3), norm.device if isinstance(norm, torch.Tensor) else "cpu")
    b = n.shape[0]
    c = as_points(centers_uvd, "centers_uvd", (b, 3), n.device)
    cam = frame_cameras(camera, b, n.device)
    cubes = frame_cubes(cube, b, n.device)
    if resolve_impl(impl, n.device) == "torch" or n.numel() == 0:
        return backproject_reference(n, c, cubes, cam)
    from .backproject_triton import backproject_triton  # triton imported only when used

    with launch_device(n):
        return backproject_triton(n, c, cubes, cam)
