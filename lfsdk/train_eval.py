"""Held-out error during training, for single-pass crops and for a second pass around the predicted palm.

Single pass: the dataset's crops (cut at the depth centre of mass, as inference's first pass) → fused joints.
Two pass: the first pass's palm (palm_weights · joints) becomes the centre of a new crop cut from the depth
frame, and the network runs again on it. The inference side of the second pass lives in the estimator;
this is the training-side measurement that picks checkpoints and sizes the training jitter.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lfsdk.data.dataset import PreprocessConfig
from lfsdk.evaluate import joint_errors, predict
from lfsdk.geometry import Camera, uvd_to_xyz, xyz_to_uvd
from lfsdk.kernels import crop_resize_normalize
from lfsdk.model import LatentFusion

__all__ = ["held_out_mm", "second_pass", "centre_error_mm"]


@dataclass(frozen=True)
class _Crops:
    """The fields of a HandCropDataset that lfsdk.evaluate.predict reads."""

    crops: torch.Tensor
    centers_uvd: torch.Tensor
    joints_uvd: torch.Tensor
    camera: Camera
    preprocess: PreprocessConfig

    def __len__(self) -> int:
        return len(self.crops)


def centre_error_mm(centers_uvd: torch.Tensor, joints_uvd: torch.Tensor, weights: np.ndarray,
                    camera: Camera) -> torch.Tensor:
    """(N, 3) crop centres uvd, (N, M, 3) true joints uvd, (M,) palm weights → (N, 3) centre − palm in
    camera mm (x, y, z); its norm is the centre's distance from the palm."""
    palm_xyz = torch.einsum("m,nmc->nc", torch.as_tensor(weights, dtype=torch.float32),
                            uvd_to_xyz(joints_uvd.float(), camera))
    return uvd_to_xyz(centers_uvd.float(), camera) - palm_xyz


@torch.no_grad()
def second_pass(model: LatentFusion, dataset, depth: torch.Tensor, weights: np.ndarray, first: dict,
                device="cpu", dtype: torch.dtype | None = None, batch_size: int = 64) -> dict:
    """Re-crop each frame of `dataset` around the palm of the first pass's prediction `first` (predict's
    output) and predict again. depth (N, H, W): the dataset's frames, in its order. Returns predict's dict
    for the second crops plus 'centers_uvd' (N, 3), the second pass's crop centres."""
    if len(depth) != len(dataset):
        raise ValueError(f"need one depth frame per dataset item, got {len(depth)} for {len(dataset)}")
    cam, pre = dataset.camera, dataset.preprocess
    palm_xyz = torch.einsum("m,nmc->nc", torch.as_tensor(weights, dtype=torch.float32), first["xyz"])
    centers = xyz_to_uvd(palm_xyz, cam)
    crops = torch.cat([crop_resize_normalize(depth[s:s + 256], centers[s:s + 256], pre.cube, cam, pre.size, pre.mode)
                       for s in range(0, len(depth), 256)])
    p = predict(model, _Crops(crops, centers, dataset.joints_uvd, cam, pre), batch_size, device, dtype)
    return {**p, "centers_uvd": centers}


def held_out_mm(model: LatentFusion, dataset, device="cpu", dtype: torch.dtype | None = None,
                depth: torch.Tensor | None = None, weights: np.ndarray | None = None) -> dict:
    """Mean joint error (mm): {'single': first pass}, plus {'two_pass': ...} when depth and weights are given."""
    first = predict(model, dataset, 64, device, dtype)
    out = {"single": float(joint_errors(first["xyz"], first["true_xyz"]).mean())}
    if depth is not None and weights is not None:
        second = second_pass(model, dataset, depth, weights, first, device, dtype)
        out["two_pass"] = float(joint_errors(second["xyz"], second["true_xyz"]).mean())
    return out
