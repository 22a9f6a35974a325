"""A scripted HandDetector: hands are points in camera mm that move with time; no model, no pixels."""
from __future__ import annotations

import numpy as np

from lfsdk.geometry import Camera
from lfsdk.track.detector import Hand, uvd_to_xyz_np, xyz_to_uvd_np

CAMERA = Camera(240.0, 240.0, 160.0, 120.0)
#: (M, 3) joint offsets from a hand's centre: a different shape per hand so mix-ups show
SHAPES = [np.array([[0.0, 0, 0], [10, -40, 0], [-10, -40, 5]]), np.array([[0.0, 0, 0], [-15, -30, 0], [20, 10, 5]])]


class ScriptedDetector:
    """world(t) → list of (hand index, centre xyz (3,)) visible at time t. detect returns every visible hand;
    refine returns, per centre, the visible hand nearest to it within `reach` mm (score 1), else score 0."""

    def __init__(self, world, reach: float = 125.0):
        self.world, self.reach = world, reach
        self.t = 0.0
        self.detect_calls = 0
        self.refine_calls = 0

    def _hand(self, k, xyz, cam):
        j = xyz + SHAPES[k % 2]
        return Hand(j, xyz_to_uvd_np(j, cam), xyz_to_uvd_np(xyz, cam), np.array([0.0, 0, 10, 10]), 1.0,
                    ("right", "left")[k % 2])

    def detect(self, depth, camera, max_hands):
        self.detect_calls += 1
        return [self._hand(k, x, camera) for k, x in self.world(self.t)][:max_hands]

    def refine(self, depth, camera, centres_uvd):
        self.refine_calls += 1
        out = []
        for c in uvd_to_xyz_np(centres_uvd, camera):
            near = [(np.linalg.norm(x - c), k, x) for k, x in self.world(self.t)]
            near = [n for n in near if n[0] <= self.reach]
            if near:
                _, k, x = min(near, key=lambda n: n[0])
                out.append(self._hand(k, x, camera))
            else:
                nan = np.full((3, 3), np.nan)
                out.append(Hand(nan, nan, xyz_to_uvd_np(c, camera), np.zeros(4), 0.0))
        return out


def run(tracker, detector, times):
    """Update the tracker at each time (a blank frame; the detector knows the scene) → list of hand lists."""
    depth = np.zeros((24, 32), np.uint16)
    out = []
    for t in times:
        detector.t = t
        out.append(tracker.update(depth, t, camera=CAMERA))
    return out
