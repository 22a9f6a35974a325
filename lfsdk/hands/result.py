"""`Hands`: what HandPoseEstimator.find_hands returns for B frames, N hand slots each, M joints per hand.

Slots are ordered by score within each frame. A slot whose candidate scored below the threshold has
found=False and NaN joints but keeps its score, centre and boxes; a slot with no candidate at all has score 0
and NaN everywhere. Tensors stay where the pipeline ran; `to_numpy()`, `to_dict()` and `draw(i)` as Result's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from ..draw import draw_hands
from ..geometry import Camera
from ..result import fields_to_numpy

__all__ = ["HAND_FIELDS", "Hands"]

#: the per-slot array fields, in to_dict order
HAND_FIELDS = ("joints_xyz", "joints_uvd", "branch_xyz", "fusion_weights", "centers_xyz", "centers_uvd", "boxes",
               "regions", "score", "left", "left_prob", "found")


@dataclass(frozen=True)
class Hands:
    """Hands in B frames, N slots per frame (torch tensors or, after to_numpy(), NumPy arrays)."""

    joints_xyz: Any  # (B, N, M, 3) camera mm, fused
    joints_uvd: Any  # (B, N, M, 3) image (u px, v px, d mm)
    branch_xyz: Any  # (B, N, 3, M, 3) camera mm per branch
    fusion_weights: Any  # (B, N, 3)
    centers_xyz: Any  # (B, N, 3) mm, the centre of the crop the joints come from
    centers_uvd: Any  # (B, N, 3)
    boxes: Any  # (B, N, 4) that crop's image box (u0, v0, u1, v1) px
    regions: Any  # (B, N, 4) the candidate region's pixel box (u0, v0, u1, v1)
    score: Any  # (B, N) calibrated probability that the slot holds a hand
    left: Any  # (B, N) bool: a left hand (estimated mirrored)
    left_prob: Any  # (B, N) probability of a left hand
    found: Any  # (B, N) bool: score ≥ the threshold
    skeleton: str
    camera: Camera
    depth: Any = None  # (B, H, W) the input frames (for draw); not in to_dict
    next_centers_uvd: Any = None  # (B, N, 3) hands_at only: where to crop each hand in the next frame

    def __len__(self) -> int:
        return int(self.found.shape[0])

    @property
    def max_hands(self) -> int:
        return int(self.found.shape[1])

    def count(self) -> Any:
        """(B,) hands found per frame."""
        return self.found.sum(1)

    def side(self, frame: int, slot: int) -> str:
        """'left', 'right' or '' (no hand found in that slot)."""
        if not bool(self.found[frame, slot]):
            return ""
        return "left" if bool(self.left[frame, slot]) else "right"

    def __getitem__(self, i: int | slice) -> "Hands":
        """The Hands of frame i (kept as a batch of one) or of a slice of frames."""
        if isinstance(i, int) and not -len(self) <= i < len(self):
            raise IndexError(f"frame {i} out of range for Hands of {len(self)} frames")
        sl = slice(i, i + 1 if i != -1 else None) if isinstance(i, int) else i
        return replace(self, **{f: getattr(self, f)[sl] for f in HAND_FIELDS},
                       **{f: None if getattr(self, f) is None else getattr(self, f)[sl]
                          for f in ("depth", "next_centers_uvd")})

    def to_numpy(self) -> "Hands":
        return fields_to_numpy(self)

    def to_dict(self) -> dict:
        """JSON-ready: per frame a list of the hands found, each a dict of its fields (NaN → None)."""
        r = self.to_numpy()

        def clean(a):
            a = np.asarray(a)
            if a.dtype == bool:
                return a.tolist()
            return [clean(x) for x in a] if a.ndim else (None if not math.isfinite(float(a)) else float(a))

        frames = []
        for b in range(len(r)):
            frames.append([{**{f: clean(getattr(r, f)[b, n]) for f in HAND_FIELDS if f not in ("found", "left")},
                            "side": self.side(b, n)} for n in range(r.max_hands) if r.found[b, n]])
        cam = {"fx": self.camera.fx, "fy": self.camera.fy, "cx": self.camera.cx, "cy": self.camera.cy}
        return {"frames": frames, "skeleton": self.skeleton, "camera": cam}

    def draw(self, frame_index: int = 0, depth: Any = None) -> np.ndarray:
        """(H, W, 3) uint8 RGB of frame i: the depth colourised, and per hand found its crop box, skeleton,
        score and side ('L'/'R'); candidates below the threshold get a thin grey box and their score."""
        if not -len(self) <= frame_index < len(self):
            raise IndexError(f"frame {frame_index} out of range for Hands of {len(self)} frames")
        r = self[frame_index].to_numpy()
        frame = depth if depth is not None else (None if r.depth is None else r.depth[0])
        if frame is None:
            raise ValueError("these Hands keep no depth frame: pass draw(i, depth=frame)")
        frame = frame.detach().cpu().numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)
        return draw_hands(frame, r.joints_uvd[0], r.boxes[0], r.found[0], r.score[0], r.left[0], self.skeleton,
                          r.centers_uvd[0, :, 2])
