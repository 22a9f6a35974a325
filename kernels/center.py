"""Hand centre: centre of mass of the near depth band, per frame (optionally refined inside the cube).

`hand_center_reference` is the plain torch reference and the CPU path; `hand_center` validates its input and
dispatches to the Triton kernel (kernels/center_triton.py) on CUDA tensors or to the reference elsewhere.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import torch

from lfsdk.geometry import CameraLike, crop_half_extent, uvd_to_xyz

from .inputs import as_depth, depth_float, frame_cameras, frame_cubes, launch_device, resolve_impl

__all__ = ["HandCenters", "centers_from_uvd", "hand_center", "hand_center_reference"]

DEFAULT_CUBE = (250.0, 250.0, 250.0)


class HandCenters(NamedTuple):
    uvd: torch.Tensor  # (B, 3) u px, v px, d mm; zeros where not found
    xyz: torch.Tensor  # (B, 3) mm; zeros where not found
    found: torch.Tensor  # (B,) bool: False for frames with no valid pixel in range


def _center_of_mass(d: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """d, mask (B, H, W) → (uvd (B, 3) mean (col, row, depth) over mask, 0 where empty; n (B,) count)."""
    _, h, w = d.shape
    wgt = mask.float()
    n = wgt.sum(dim=(1, 2))
    denom = n.clamp_min(1.0)
    rows = torch.arange(h, device=d.device, dtype=torch.float32)
    cols = torch.arange(w, device=d.device, dtype=torch.float32)
    u = (wgt.sum(dim=1) * cols).sum(dim=-1) / denom  # per-column counts (B, W) · column index
    v = (wgt.sum(dim=2) * rows).sum(dim=-1) / denom  # per-row counts (B, H) · row index
    z = torch.where(mask, d, 0.0).sum(dim=(1, 2)) / denom  # where, not wgt·d: a NaN pixel must not leak in
    return torch.stack((u, v, z), dim=-1), n


def centers_from_uvd(uvd: torch.Tensor, found: torch.Tensor, camera: CameraLike) -> HandCenters:
    """(B, 3) uvd and (B,) found → HandCenters with xyz; frames not found get zeros (no division by d = 0)."""
    uvd = uvd * found[:, None]
    safe = torch.where(found[:, None], uvd, torch.ones_like(uvd))
    xyz = torch.where(found[:, None], uvd_to_xyz(safe, camera), torch.zeros_like(uvd))
    return HandCenters(uvd, xyz, found)


def hand_center_reference(depth: torch.Tensor, camera: CameraLike, *, band: float = 150.0,
                          near: float = 10.0, far: float = 2000.0, refine: bool = False,
                          cube: Any = DEFAULT_CUBE) -> HandCenters:
    """Centre of mass (in uvd, then xyz) of the valid pixels within `band` mm behind the nearest one.

    depth: (B, H, W) mm (0 = missing). Pixels outside (near, far) are ignored. With refine=True a second
    centre of mass is taken over the valid pixels inside the cube (cube (3,)|(B, 3) mm) around the first
    centre: |u − u_c| ≤ h_u, |v − v_c| ≤ h_v, |d − d_c| ≤ s_z/2 (geometry.crop_half_extent); a frame whose
    cube holds no valid pixel keeps its first centre. Returns HandCenters of (B, 3), (B, 3), (B,).
    """
    d = depth_float(depth)
    valid = (d > near) & (d < far)
    nearest = torch.where(valid, d, torch.full_like(d, float("inf"))).amin(dim=(1, 2))  # (B,)
    uvd, n = _center_of_mass(d, valid & (d <= nearest[:, None, None] + band))
    found = n > 0
    if refine:
        c = torch.where(found[:, None], uvd, torch.ones_like(uvd))  # any d > 0: unfound frames are masked out
        half = crop_half_extent(c, cube, camera)  # (B, 3)
        _, h, w = d.shape
        rows = torch.arange(h, device=d.device, dtype=torch.float32)[None, :, None]
        cols = torch.arange(w, device=d.device, dtype=torch.float32)[None, None, :]
        inside = (valid & found[:, None, None]
                  & ((cols - c[:, 0, None, None]).abs() <= half[:, 0, None, None])
                  & ((rows - c[:, 1, None, None]).abs() <= half[:, 1, None, None])
                  & ((d - c[:, 2, None, None]).abs() <= half[:, 2, None, None]))
        uvd2, n2 = _center_of_mass(d, inside)
        uvd = torch.where((n2 > 0)[:, None], uvd2, uvd)
    return centers_from_uvd(uvd, found, camera)


def hand_center(depth: Any, camera: CameraLike, *, band: float = 150.0, near: float = 10.0,
                far: float = 2000.0, refine: bool = False, cube: Any = DEFAULT_CUBE,
                impl: str = "auto") -> HandCenters:
    """Batched hand centres: see hand_center_reference for the maths.

    depth: (B, H, W) uint16/int/float mm, torch (CPU or CUDA) or numpy; non-contiguous input is copied to a
    contiguous one. camera: Camera, (4,) or (B, 4); cube: (3,) or (B, 3) mm (used only with refine).
    impl: 'auto' (Triton on CUDA when triton imports, else torch), 'triton' or 'torch'.
    Returns HandCenters (uvd (B, 3), xyz (B, 3), found (B,)) on depth's device.
    """
    d = as_depth(depth)
    for name, val in (("band", band), ("near", near), ("far", far)):
        if not isinstance(val, (int, float)) or val != val:
            raise ValueError(f"{name} must be a number in mm, got {val!r}")
    if band < 0 or near >= far:
        raise ValueError(f"need band ≥ 0 and near < far (mm), got band={band}, near={near}, far={far}")
    b = d.shape[0]
    cam = frame_cameras(camera, b, d.device)
    cubes = frame_cubes(cube, b, d.device)
    if resolve_impl(impl, d.device) == "torch" or b == 0:
        return hand_center_reference(d, cam, band=float(band), near=float(near), far=float(far),
                                     refine=bool(refine), cube=cubes)
    from .center_triton import hand_center_triton  # triton imported only when used

    with launch_device(d):
        uvd, found = hand_center_triton(d.contiguous(), cam, cubes, band=float(band), near=float(near),
                                        far=float(far), refine=bool(refine))
    return centers_from_uvd(uvd, found, cam)
