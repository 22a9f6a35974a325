"""The single-hand HandPoseEstimator call behind the HandDetector seam: a cheaper option than the default
FindHandsDetector (under half its refine cost per frame, benchmarks/bench_track_detectors.py) for when a
calibrated hand score and the side are not needed.

The single-hand call finds one hand per frame (the nearest depth band) and has no hand score, so:
- detect: find the nearest hand, blank its crop cube, look again — up to max_hands hands — then refine;
- refine: each copy of the frame keeps only the pixels inside the crop cube around its seed, and the
  estimator's own centre rule runs there (centre of mass of the nearest band: the centres the model was
  trained on, so tracking crops look like training crops);
- score: the share of a hand's expected image area seen in that band, min(1, pixels / (area·fx·fy/d²)),
  a stand-in for the network's hand score, 0 when nothing is there. A hand leaving the frame or hidden
  behind another loses its score; handedness is 'unknown' (the default model knows right hands only).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..estimator import HandPoseEstimator, InputError
from ..geometry import Camera, crop_boxes, crop_half_extent
from ..kernels import hand_center
from .detector import Hand, check_centres

__all__ = ["EstimatorDetector", "cube_masks", "as_depth_frame"]


def as_depth_frame(depth: Any) -> np.ndarray:
    """One depth frame (H, W) of non-negative finite millimetres (numpy or torch) → float32 NumPy array."""
    d = depth.detach().cpu().numpy() if isinstance(depth, torch.Tensor) else np.asarray(depth)
    if d.ndim != 2 or min(d.shape) < 2:
        raise InputError(f"depth must be one (H, W) frame of millimetres, got shape {d.shape}")
    if d.dtype.kind not in "uif" or d.dtype == np.uint8:
        raise InputError(f"depth dtype {d.dtype} is not supported: expected uint16 or float millimetres")
    d = d.astype(np.float32)
    if not np.isfinite(d).all() or (d < 0).any():
        raise InputError("depth must be finite and ≥ 0 mm (0 for missing pixels)")
    return d


def cube_masks(depth: np.ndarray, centres_uvd: np.ndarray, cube, camera: Camera) -> np.ndarray:
    """depth (H, W) mm, centres (K, 3) uvd → (K, H, W) bool: valid pixels inside each centre's crop cube
    (|u − u_c| ≤ h_u, |v − v_c| ≤ h_v, |d − d_c| ≤ s_z/2, lfsdk.geometry.crop_half_extent)."""
    half = crop_half_extent(torch.from_numpy(centres_uvd), torch.tensor(cube, dtype=torch.float64),
                            camera).numpy()
    h, w = depth.shape
    c = centres_uvd[:, :, None, None]
    hk = half[:, :, None, None]
    cols = np.arange(w)[None, None, :]
    rows = np.arange(h)[None, :, None]
    return ((depth[None] > 0) & (np.abs(cols - c[:, 0]) <= hk[:, 0]) & (np.abs(rows - c[:, 1]) <= hk[:, 1])
            & (np.abs(depth[None] - c[:, 2]) <= hk[:, 2]))


class EstimatorDetector:
    """HandDetector over a HandPoseEstimator. hand_area_mm2: the image area (mm² at the hand's depth) that
    counts as a whole hand for the score (default 6000: a palm and the roots of the fingers)."""

    def __init__(self, estimator: HandPoseEstimator, *, hand_area_mm2: float = 6000.0):
        if not hasattr(estimator, "cube") or not callable(estimator):
            raise TypeError(f"EstimatorDetector needs a HandPoseEstimator, got {type(estimator).__name__}")
        if not (isinstance(hand_area_mm2, (int, float)) and np.isfinite(hand_area_mm2) and hand_area_mm2 > 0):
            raise ValueError(f"hand_area_mm2 must be a positive number of mm², got {hand_area_mm2!r}")
        self.estimator = estimator
        self.hand_area_mm2 = float(hand_area_mm2)

    @property
    def cube(self) -> tuple[float, float, float]:
        return tuple(self.estimator.cube)

    def detect(self, depth: Any, camera: Camera, max_hands: int) -> list[Hand]:
        if not isinstance(max_hands, int) or max_hands < 1:
            raise ValueError(f"max_hands must be an int ≥ 1, got {max_hands!r}")
        d = as_depth_frame(depth)
        rest, centres = d.copy(), []
        for _ in range(max_hands):
            hc = hand_center(torch.from_numpy(rest)[None], camera, band=self.estimator.band)
            if not bool(hc.found[0]):
                break
            c = hc.uvd[0].double().numpy()
            centres.append(c)
            rest[cube_masks(rest, c[None], self.cube, camera)[0]] = 0  # this hand is taken: look elsewhere
        hands = self.refine(d, camera, np.array(centres)) if centres else []
        return sorted(hands, key=lambda hnd: -hnd.score)

    def refine(self, depth: Any, camera: Camera, centres_uvd: Any) -> list[Hand]:
        d = as_depth_frame(depth)
        c = check_centres(centres_uvd)
        if len(c) == 0:
            return []
        masks = cube_masks(d, c, self.cube, camera)
        stack = np.where(masks, d[None], 0.0).astype(np.float32)
        res = self.estimator(stack, camera=camera).to_numpy()
        return [self._hand(res, k, stack[k], c[k], camera) for k in range(len(c))]

    def _hand(self, res, k: int, frame: np.ndarray, seed: np.ndarray, camera: Camera) -> Hand:
        if not bool(res.found[k]):
            box = crop_boxes(torch.from_numpy(seed[None]), torch.tensor(self.cube, dtype=torch.float64),
                             camera)[0].numpy()
            nan = np.full_like(res.joints_xyz[k], np.nan)
            return Hand(nan, nan, seed.copy(), box, 0.0)
        valid = frame[frame > 0]
        used = int((valid <= valid.min() + self.estimator.band).sum())
        centre = res.centers_uvd[k].astype(np.float64)
        expected = self.hand_area_mm2 * camera.fx * camera.fy / centre[2] ** 2
        return Hand(res.joints_xyz[k], res.joints_uvd[k], centre, res.boxes[k], float(min(1.0, used / expected)))
