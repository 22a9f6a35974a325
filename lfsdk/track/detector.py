"""The seam between the tracker and whatever finds hands: a `Hand` record and the `HandDetector` protocol.

    detect(depth, camera, max_hands) -> list[Hand]     look for hands anywhere in the frame (costly)
    refine(depth, camera, centres_uvd) -> list[Hand]   one hand per given centre, cropped there (cheap)

`refine` is what tracking runs every frame: each tracked hand's predicted centre seeds its crop and no
detection runs. `FindHandsDetector` puts HandPoseEstimator.find_hands behind this seam (the default),
`EstimatorDetector` the single-hand call.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
import torch

from ..geometry import Camera, uvd_to_xyz, xyz_to_uvd

__all__ = ["Hand", "HandDetector", "HANDEDNESS", "check_centres", "uvd_to_xyz_np", "xyz_to_uvd_np"]

#: the values Hand.handedness may take
HANDEDNESS = ("left", "right", "unknown")


@dataclass(frozen=True)
class Hand:
    """One hand in one frame: joints (M, 3) in camera mm and image uvd, the crop centre (3,) uvd px/px/mm
    the next frame's crop may start from, the crop box (4,) px, a score in [0, 1], the side and, when the
    detector estimates it, the probability of a left hand (the tracker votes with it)."""

    joints_xyz: np.ndarray
    joints_uvd: np.ndarray
    centre_uvd: np.ndarray
    box: np.ndarray
    score: float
    handedness: str = "unknown"
    left_prob: float | None = None

    def __post_init__(self):
        m = np.shape(self.joints_xyz)
        if len(m) != 2 or m[1] != 3 or np.shape(self.joints_uvd) != m:
            raise ValueError(f"Hand joints must be (M, 3) in xyz and uvd, got {m} and {np.shape(self.joints_uvd)}")
        if np.shape(self.centre_uvd) != (3,) or np.shape(self.box) != (4,):
            raise ValueError(f"Hand centre_uvd must be (3,) and box (4,), got {np.shape(self.centre_uvd)} "
                             f"and {np.shape(self.box)}")
        if not 0.0 <= float(self.score) <= 1.0:
            raise ValueError(f"Hand score must be in [0, 1], got {self.score}")
        if self.handedness not in HANDEDNESS:
            raise ValueError(f"Hand handedness must be one of {HANDEDNESS}, got {self.handedness!r}")
        if self.left_prob is not None and not 0.0 <= float(self.left_prob) <= 1.0:
            raise ValueError(f"Hand left_prob must be None or in [0, 1], got {self.left_prob}")


@runtime_checkable
class HandDetector(Protocol):
    """What HandTracker needs from a hand-pose model."""

    def detect(self, depth: np.ndarray, camera: Camera, max_hands: int) -> list[Hand]:
        """Up to max_hands hands anywhere in depth (H, W) mm, best first."""

    def refine(self, depth: np.ndarray, camera: Camera, centres_uvd: np.ndarray) -> list[Hand]:
        """Exactly one Hand per row of centres_uvd (K, 3), cropped around it (score 0 when nothing is there)."""


def uvd_to_xyz_np(uvd: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) u px, v px, d mm → (..., 3) camera mm (lfsdk.geometry.uvd_to_xyz on NumPy, float64)."""
    return uvd_to_xyz(torch.from_numpy(np.asarray(uvd, dtype=np.float64)), camera).numpy()


def xyz_to_uvd_np(xyz: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) camera mm (z > 0) → (..., 3) u px, v px, d mm (lfsdk.geometry.xyz_to_uvd on NumPy, float64)."""
    return xyz_to_uvd(torch.from_numpy(np.asarray(xyz, dtype=np.float64)), camera).numpy()


def check_centres(centres_uvd: Sequence, name: str = "centres_uvd") -> np.ndarray:
    """(K, 3) finite uvd with d > 0 → float64 array; anything else raises ValueError saying what."""
    c = np.asarray(centres_uvd, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 3:
        raise ValueError(f"{name} must be (K, 3) u px, v px, d mm, got shape {c.shape}")
    if not np.isfinite(c).all() or (c[:, 2] <= 0).any():
        raise ValueError(f"{name} must be finite with depth d > 0 mm, got {c.tolist()}")
    return c
