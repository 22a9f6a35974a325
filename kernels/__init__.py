"""lfsdk.kernels: batched pre/post-processing. One dispatch function per op: Triton on CUDA tensors
(when triton is importable), the torch reference everywhere else."""
from .backproject import backproject_reference
from .center import HandCenters, hand_center_reference
from .crop import crop_reference

__all__ = ["HandCenters", "backproject_reference", "crop_reference", "hand_center_reference"]
