"""`Result`: what HandPoseEstimator returns for a batch of B frames with M joints.

Tensors stay on the device the pipeline ran on; `to_numpy()` gives the same Result with NumPy arrays,
`to_dict()` a JSON-ready dict (NaN → None), `draw(i)` an RGB overlay of frame i.
Frames where no hand was found have found=False and NaN joints, centres, boxes and fusion weights.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch

from .contract import InputError
from .draw import draw_overlay
from .geometry import Camera

__all__ = ["Result", "fields_to_numpy"]


def fields_to_numpy(obj):
    """A copy of the dataclass `obj` with every torch tensor field a NumPy array on the host."""
    def conv(x):
        return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
    return replace(obj, **{f.name: conv(getattr(obj, f.name)) for f in fields(obj)})


def _frame_index(i: Any, n: int) -> int:
    """A frame index of any integer type (int, numpy or 0-d torch integers) → int in range; IndexError/TypeError."""
    try:
        k = operator.index(i)
    except TypeError:
        raise TypeError(f"frames are indexed by an integer or a slice, got {type(i).__name__}") from None
    if not -n <= k < n:
        raise IndexError(f"frame {k} out of range for a Result of {n} frames")
    return k

#: the per-frame array fields, in to_dict order
ARRAY_FIELDS = ("joints_xyz", "joints_uvd", "branch_xyz", "fusion_weights", "centers_xyz", "centers_uvd",
                "boxes", "found")


@dataclass(frozen=True)
class Result:
    """Joints for B frames, M joints each (torch tensors or, after to_numpy(), NumPy arrays)."""

    joints_xyz: Any  # (B, M, 3) camera mm, fused
    joints_uvd: Any  # (B, M, 3) image (u px, v px, d mm)
    branch_xyz: Any  # (B, 3, M, 3) camera mm per branch (XY|Z, XZ|Y, YZ|X)
    fusion_weights: Any  # (B, 3) μ, sums to 1
    centers_xyz: Any  # (B, 3) mm, the hand centres the crops were cut around
    centers_uvd: Any  # (B, 3)
    boxes: Any  # (B, 4) crop boxes (u0, v0, u1, v1) px
    found: Any  # (B,) bool
    skeleton: str  # joint layout name (lfsdk.skeletons)
    camera: Camera
    depth: Any = None  # (B, H, W) the input frames (a reference, for draw); not in to_dict

    def __len__(self) -> int:
        return int(self.found.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.joints_xyz.shape[1])

    def __getitem__(self, i: int | slice) -> "Result":
        """The Result of frame i (kept as a batch of one; any integer type, numpy's too) or of a slice."""
        if not isinstance(i, slice):
            i = _frame_index(i, len(self))
        sl = slice(i, i + 1 if i != -1 else None) if isinstance(i, int) else i
        return replace(self, **{f: getattr(self, f)[sl] for f in ARRAY_FIELDS},
                       depth=None if self.depth is None else self.depth[sl])

    def to_numpy(self) -> "Result":
        """The same Result with every array a NumPy array on the host."""
        return fields_to_numpy(self)

    def to_dict(self) -> dict:
        """JSON-ready: nested lists of floats (NaN → None), plus skeleton and camera."""
        r = self.to_numpy()

        def clean(a: np.ndarray):
            if a.dtype == bool:
                return a.tolist()
            return [clean(x) for x in a] if a.ndim else (None if not math.isfinite(float(a)) else float(a))

        out = {f: clean(getattr(r, f)) for f in ARRAY_FIELDS}
        out["skeleton"] = self.skeleton
        out["camera"] = {"fx": self.camera.fx, "fy": self.camera.fy, "cx": self.camera.cx, "cy": self.camera.cy}
        return out

    def draw(self, frame_index: int = 0, depth: Any = None) -> np.ndarray:
        """(H, W, 3) uint8 RGB: the depth frame colourised, the crop box, the skeleton coloured per finger
        and the joints as dots. `depth` overrides the frame kept in the Result."""
        r = self[_frame_index(frame_index, len(self))].to_numpy()
        frame = depth if depth is not None else (None if r.depth is None else r.depth[0])
        if frame is None:
            raise ValueError("this Result keeps no depth frame: pass draw(i, depth=frame)")
        frame = frame.detach().cpu().numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)
        expected = None if r.depth is None else tuple(r.depth.shape[1:])
        if frame.ndim != 2 or frame.dtype.kind not in "iuf" or (expected is not None and frame.shape != expected):
            raise InputError(f"draw: depth must be the frame's (H, W) = {expected or '(H, W)'} millimetres, got "
                             f"{frame.dtype} of shape {frame.shape}")
        return draw_overlay(frame, r.joints_uvd[0], r.boxes[0], bool(r.found[0]), self.skeleton,
                            float(r.centers_uvd[0, 2]))
