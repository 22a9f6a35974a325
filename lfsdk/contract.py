"""The network's I/O contract, one definition for every layer: what goes in, what comes out, and by which names.

    crops (B, 1, S, S) float32, depth normalised to [-1, 1] in a cube around the hand centre
      → Outputs(joints (B, M, 3), branch_joints (B, 3, M, 3), fusion_weights (B, 3)), normalised cube

The same names are the ONNX graph's input and output names, the TensorRT engine's tensor names, the Triton
model's and the backends' dictionary keys. Depth frames entering the pipeline are millimetres in one of
DEPTH_DTYPES; `as_tensor` is the one numpy/list → torch conversion of user input.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

__all__ = ["Outputs", "OUTPUT_NAMES", "INPUT_NAME", "XYZ_OUTPUT", "INT_DEPTH", "FLOAT_DEPTH", "DEPTH_DTYPES",
           "InputError", "as_tensor"]


class Outputs(NamedTuple):
    """What the network returns, in the normalised cube [-1, 1]³ (x, y, z)."""

    joints: torch.Tensor  # (B, M, 3) fused, float32
    branch_joints: torch.Tensor  # (B, 3, M, 3) per branch, in lfsdk.model.BRANCHES order
    fusion_weights: torch.Tensor  # (B, 3) μ, non-negative, sums to 1


#: the graph's input and its outputs, in Outputs order
INPUT_NAME = "crops"
OUTPUT_NAMES: tuple[str, ...] = Outputs._fields
#: the extra output of an ONNX exported with the back-projection fused in (lfsdk-export --xyz)
XYZ_OUTPUT = "joints_xyz"

#: integer depth dtypes (mm) and floating ones; uint8 is refused: 8 bits cannot hold depth in mm
INT_DEPTH = (torch.uint16, torch.int16, torch.int32, torch.int64)
FLOAT_DEPTH = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
DEPTH_DTYPES = INT_DEPTH + FLOAT_DEPTH


class InputError(ValueError):
    """Input the pipeline cannot use; the message says what was wrong and what was expected."""


def as_tensor(x: Any, name: str) -> torch.Tensor:
    """A numpy array, a torch tensor or a nested list of numbers → a torch tensor (no copy where possible).

    A tensor that requires grad is detached (inference never back-propagates into user data); a big-endian
    numpy array is converted to native byte order. Raises InputError naming `name` for anything else, or for
    a non-numeric numpy dtype."""
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise InputError(f"{name}: numpy dtype {x.dtype} is not numeric (expected uint16 or float mm)")
        if not x.dtype.isnative:  # e.g. '>u2' from a file: torch.from_numpy takes native byte order only
            x = x.astype(x.dtype.newbyteorder("="))
        # torch.from_numpy takes uint16 since torch 2.3; np.ascontiguousarray would turn a 0-d array into 1-d
        return torch.from_numpy(x if x.flags.c_contiguous else np.ascontiguousarray(x))
    if isinstance(x, (list, tuple)):
        try:
            return torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError) as e:
            raise InputError(f"{name}: not a rectangular array of numbers ({e})") from None
    raise InputError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
