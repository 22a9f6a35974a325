"""The multi-hand call as served: HandPoseEstimator.find_hands on a request's frames → the protocol's arrays.

`lfsdk serve` (lfsdk.serving.server) and the exported repository's Python-backend model
(lfsdk.export.triton_models.HandsModel) both answer with find_hands_arrays, so a served answer is the
in-process estimator's, field for field."""
from __future__ import annotations

import numpy as np

from ..estimator import HandPoseEstimator
from ..geometry import Camera
from ..hands import Hands
from .protocol import hands_outputs

__all__ = ["hands_arrays", "find_hands_arrays"]


def hands_arrays(hands: Hands) -> dict[str, np.ndarray]:
    """lfsdk Hands → the protocol's output arrays (B, N, ...), each with the protocol's dtype."""
    h = hands.to_numpy()
    m = h.joints_xyz.shape[2]
    return {s.name: np.ascontiguousarray(getattr(h, s.name), dtype=s.dtype) for s in hands_outputs(m)}


def find_hands_arrays(estimator: HandPoseEstimator, depth: np.ndarray, camera: np.ndarray, max_hands: int,
                      score_threshold: float | None) -> dict[str, np.ndarray]:
    """depth (B, H, W) uint16 mm, camera (B, 4) (fx, fy, cx, cy) → estimator.find_hands' fields as arrays
    (B, max_hands, ...) in frame order. Frames sharing a camera run as one find_hands call."""
    groups: dict[tuple, list[int]] = {}
    for j, cam in enumerate(np.asarray(camera, dtype=np.float32).tolist()):
        groups.setdefault(tuple(cam), []).append(j)
    out: dict[str, np.ndarray] = {}
    for cam, idx in groups.items():
        hands = estimator.find_hands(depth[idx], max_hands, score_threshold, camera=Camera(*cam))
        for name, v in hands_arrays(hands).items():
            out.setdefault(name, np.empty((len(depth),) + v.shape[1:], v.dtype))[idx] = v
    return out
