"""The pipeline around the network as pure functions: depth → crops (preprocess), network outputs → joints in
mm (postprocess). Both are the lfsdk.kernels ops — Triton on CUDA tensors, torch elsewhere — and are shared by
the estimator, training, export calibration and the Triton model repository."""
from __future__ import annotations

from typing import Sequence

import torch

from .contract import Outputs
from .geometry import Camera, crop_boxes
from .kernels import HandCenters, backproject, crop_resize_normalize, hand_center
from .preprocess import PreprocessConfig

__all__ = ["preprocess", "postprocess", "finite_found"]


def preprocess(depth: torch.Tensor, camera: Camera, config: PreprocessConfig = PreprocessConfig(), *,
               centers: HandCenters | None = None) -> tuple[torch.Tensor, HandCenters]:
    """depth (B, H, W) mm → (crops (B, 1, S, S) in [-1, 1], HandCenters (B, 3)/(B, 3)/(B,)), S = config.size.

    Centres are found (centre of mass of the near depth band, optionally refined inside the cube) unless
    given."""
    if centers is None:
        centers = hand_center(depth, camera, band=config.band, refine=config.refine, cube=config.cube)
    crops = crop_resize_normalize(depth, centers.uvd, config.cube, camera, size=config.size, mode=config.mode)
    return crops, centers


def postprocess(out: Outputs, centers: HandCenters, cube: Sequence[float], camera: Camera) -> dict[str, torch.Tensor]:
    """Network outputs in the normalised cube → joints in uvd and mm; NaN for frames without a hand.

    out: joints (B, M, 3), branch_joints (B, 3, M, 3), fusion_weights (B, 3). Returns a dict of
    joints_uvd, joints_xyz (B, M, 3), branch_xyz (B, 3, M, 3), fusion_weights (B, 3), boxes (B, 4),
    centers_uvd, centers_xyz (B, 3) — every field of a Result that depends on the hand being found."""
    b, m = out.joints.shape[:2]
    # the fused joints and the three branches' joints back-projected in one call: (B, 4M, 3)
    norm = torch.cat((out.joints[:, None], out.branch_joints), dim=1).reshape(b, 4 * m, 3)
    uvd_all, xyz_all = backproject(norm, centers.uvd, cube, camera)
    uvd_all, xyz_all = uvd_all.reshape(b, 4, m, 3), xyz_all.reshape(b, 4, m, 3)
    missing = ~centers.found
    nan = float("nan")
    boxes = crop_boxes(torch.where(missing[:, None], 1.0, centers.uvd), torch.as_tensor(cube, device=norm.device),
                       camera)
    return {
        "joints_uvd": uvd_all[:, 0].masked_fill(missing[:, None, None], nan),
        "joints_xyz": xyz_all[:, 0].masked_fill(missing[:, None, None], nan),
        "branch_xyz": xyz_all[:, 1:].masked_fill(missing[:, None, None, None], nan),
        "fusion_weights": out.fusion_weights.masked_fill(missing[:, None], nan),
        "boxes": boxes.masked_fill(missing[:, None], nan),
        "centers_uvd": centers.uvd.masked_fill(missing[:, None], nan),
        "centers_xyz": centers.xyz.masked_fill(missing[:, None], nan),
    }


def finite_found(post: dict[str, torch.Tensor], found: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """(postprocess's dict, found (B,)) → the same with every frame whose joints, branches, weights, box or
    centre are not all finite marked not found (found False, its fields NaN), so found=True always means
    usable numbers, whatever the backend or the geometry produced."""
    ok = found.clone()
    for v in post.values():
        ok &= torch.isfinite(v.reshape(v.shape[0], -1)).all(dim=1)
    bad = found & ~ok
    if not bool(bad.any()):
        return post, found
    nan = float("nan")
    return {k: v.masked_fill(bad.reshape(-1, *([1] * (v.dim() - 1))), nan) for k, v in post.items()}, ok
