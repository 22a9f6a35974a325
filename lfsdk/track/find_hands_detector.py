"""HandPoseEstimator.find_hands behind the HandDetector seam (the tracker's default).

- detect: est.find_hands — candidate regions, a crop per candidate at its hand's centre, a second crop
  around the network's palm, both sides, the calibrated hand score and the side (lfsdk.hands);
- refine: est.hands_at — the same path from the given centres instead of the candidate search's, so a
  tracked hand gets the same score and side as a detected one, without the mean-shift search, without
  estimating the candidates that are not hands and (recenter=False, the default) with one crop per hand
  and side instead of two: the crop is cut at the predicted centre, and the centre for the next frame is
  where find_hands' second crop would have been.

Every slot comes back whatever its score (score_threshold 0): the tracker's min_score decides.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..estimator import HandPoseEstimator
from ..geometry import Camera
from ..hands import Hands
from .detector import Hand, check_centres
from .estimator_detector import as_depth_frame

__all__ = ["FindHandsDetector", "hands_of"]


def hands_of(hands: Hands) -> list[Hand]:
    """Frame 0 of a Hands result → one Hand per slot, NaN joints where none was estimated; handedness and
    left_prob from its side; the centre is next_centers_uvd where the result has it, else the crop's."""
    r = hands.to_numpy()
    centres = r.centers_uvd if r.next_centers_uvd is None else r.next_centers_uvd
    out = []
    for n in range(r.max_hands):
        lp = float(r.left_prob[0, n])
        side = "unknown" if not np.isfinite(lp) else ("left" if bool(r.left[0, n]) else "right")
        out.append(Hand(r.joints_xyz[0, n], r.joints_uvd[0, n], centres[0, n].astype(np.float64),
                        r.boxes[0, n].astype(np.float64), float(np.clip(r.score[0, n], 0.0, 1.0)), side,
                        lp if np.isfinite(lp) else None))
    return out


class FindHandsDetector:
    """HandDetector over HandPoseEstimator.find_hands / hands_at. options: passed to both (config=,
    scorer=); candidates: regions examined by detect (default max_hands + 1); recenter: refine crops
    twice per hand, as detection does (slower, see the module docstring)."""

    def __init__(self, estimator: HandPoseEstimator, *, candidates: int | None = None, recenter: bool = False,
                 **options):
        if not callable(getattr(estimator, "find_hands", None)) or not callable(getattr(estimator, "hands_at", None)):
            raise TypeError(f"FindHandsDetector needs a HandPoseEstimator (find_hands, hands_at), got "
                            f"{type(estimator).__name__}")
        self.estimator = estimator
        self.candidates = candidates
        self.recenter = bool(recenter)
        self.options = options

    def detect(self, depth: Any, camera: Camera, max_hands: int) -> list[Hand]:
        if isinstance(max_hands, bool) or not isinstance(max_hands, int) or max_hands < 1:
            raise ValueError(f"max_hands must be an int ≥ 1, got {max_hands!r}")
        cand = {} if self.candidates is None else {"candidates": max(self.candidates, max_hands)}
        res = self.estimator.find_hands(as_depth_frame(depth), max_hands, 0.0, camera=camera, **cand, **self.options)
        return [h for h in hands_of(res) if np.isfinite(h.joints_xyz).all()]  # best first

    def refine(self, depth: Any, camera: Camera, centres_uvd: Any) -> list[Hand]:
        c = check_centres(centres_uvd)
        if len(c) == 0:
            return []
        res = self.estimator.hands_at(as_depth_frame(depth), c, 0.0, camera=camera, recenter=self.recenter,
                                      **self.options)
        return hands_of(res)
