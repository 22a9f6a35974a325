"""lfsdk.kernels: batched pre/post-processing. One dispatch function per op: Triton on CUDA tensors
(when triton is importable), the torch reference everywhere else; `impl=` forces either.

    centers = hand_center(depth, camera, refine=True)                  # depth (B, H, W) uint16/float mm
    crops = crop_resize_normalize(depth, centers.uvd, cube, camera)    # (B, 1, 128, 128) in [-1, 1]
    uvd, xyz = backproject(joints_norm, centers.uvd, cube, camera)     # (B, M, 3) each, xyz in mm
"""
from .backproject import backproject, backproject_reference
from .center import HandCenters, hand_center, hand_center_reference
from .crop import crop_reference, crop_resize_normalize
from .inputs import triton_available

__all__ = ["HandCenters", "backproject", "backproject_reference", "crop_reference", "crop_resize_normalize",
           "hand_center", "hand_center_reference", "triton_available"]
