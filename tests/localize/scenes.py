"""Small composed scenes for the localisation tests, built from lfsdk.data.synthetic's capsule raycaster.

Every builder takes a seed and returns (depth (H, W) uint16 mm, hands): hands a list of (joints_xyz (M, 3)
NYU layout, left: bool). Geometry only (no sensor noise unless stated), so the tests stay fast and exact.
"""
from __future__ import annotations

import numpy as np

from lfsdk.data.synthetic import RenderOptions, raycast_capsules, render_hand
from lfsdk.geometry import Camera

CAM = Camera.icvl()
H, W = 120, 160  # half the ICVL frame: the tests run small
CAM_SMALL = Camera(CAM.fx / 2, CAM.fy / 2, (W - 1) / 2, (H - 1) / 2)
PALM = 13  # NYU layout's palm centre


def use_size(h: int, w: int) -> None:
    """Render at (h, w) with the ICVL camera scaled to it (benchmarks use the full 240×320)."""
    global H, W, CAM_SMALL
    H, W = h, w
    CAM_SMALL = Camera(CAM.fx * w / 320, CAM.fy * h / 240, (w - 1) / 2, (h - 1) / 2)


def _hand(seed, u: float, z: float, *, left: bool = False, forearm: float = 120.0, fingers_up: bool = True):
    """A posed hand's capsules and joints, its palm moved to image column u at depth z."""
    opts = RenderOptions(forearm=(forearm, forearm), rotation_deg=60.0 if fingers_up else 180.0)
    f = render_hand(seed, CAM_SMALL, "nyu", (H, W), opts, noise=False)
    caps, joints = f.capsules.astype(np.float64), f.joints_xyz.astype(np.float64)
    if left:  # a mirrored right hand is a left hand
        caps[:, [0, 3]] *= -1
        joints[:, 0] *= -1
    palm = joints[PALM]
    target = np.array([(u - CAM_SMALL.cx) * z / CAM_SMALL.fx, (H / 2 - CAM_SMALL.cy) * z / CAM_SMALL.fy, z])
    shift = target - palm
    caps[:, :3] += shift
    caps[:, 3:6] += shift
    return caps, joints + shift


def _plane(normal, point) -> np.ndarray:
    """(H, W) depth of the plane through `point` with `normal` (camera mm), 0 where behind the camera."""
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack(((u - CAM_SMALL.cx) / CAM_SMALL.fx, (v - CAM_SMALL.cy) / CAM_SMALL.fy, np.ones_like(u)), -1)
    n = np.asarray(normal, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (n @ np.asarray(point, float)) / (rays @ n)
    return np.where((t > 0) & np.isfinite(t), t, 0.0)


def _compose(caps: np.ndarray, *backgrounds: np.ndarray) -> np.ndarray:
    depth, _ = raycast_capsules(caps, CAM_SMALL, H, W) if len(caps) else (np.zeros((H, W)), None)
    for bg in backgrounds:
        depth = np.where((depth > 0) & ((bg <= 0) | (depth < bg)), depth, bg)
    return np.clip(np.rint(depth), 0, 65535).astype(np.uint16)


def wall(z: float = 1300.0) -> np.ndarray:
    return _plane((0, 0, -1), (0, 0, z))


def lone_hand(seed):
    caps, j = _hand(seed, W * 0.5, 500.0)
    return _compose(caps, wall()), [(j, False)]


def arm_torso(seed):
    """Hand at 450–600 mm on a full forearm, an upper arm to a shoulder and a torso at ~900 mm, a wall."""
    rng = np.random.default_rng(seed)
    caps, j = _hand(seed, W * 0.45, rng.uniform(450, 600), forearm=260.0)
    elbow = caps[-1, 3:6]
    shoulder = np.array([elbow[0] + rng.uniform(-60, 60), elbow[1] + 120.0, 880.0])
    torso = np.array([[shoulder[0] - 120, shoulder[1] + 80, 930, shoulder[0] + 120, shoulder[1] + 400, 950, 150]])
    arm = np.array([[*elbow, *shoulder, 40.0]])
    return _compose(np.concatenate((caps, arm, torso)), wall(1400.0)), [(j, False)]


def two_hands(seed):
    """A right hand and a left (mirrored) hand side by side at 500 / 520 mm."""
    a, ja = _hand((seed, 0), W * 0.27, 500.0)
    b, jb = _hand((seed, 1), W * 0.73, 520.0, left=True)
    return _compose(np.concatenate((a, b)), wall()), [(ja, False), (jb, True)]


def specks(seed):
    """A lone hand with a flying pixel and a 3×3 speck 200 mm nearer than it."""
    depth, hands = lone_hand(seed)
    near = int(depth[depth > 0].min()) - 200
    depth[10, 10] = near
    depth[100:103, 140:143] = near
    return depth, hands


def desk(seed):
    """A hand at 550 mm above a desk whose front edge (bottom of the frame) is at 350 mm."""
    caps, j = _hand(seed, W * 0.5, 550.0)
    top = _plane((0, -1, -0.35), (0, 90, 350))  # tilted away from the camera, below the hand
    v = np.mgrid[0:H, 0:W][0]
    top = np.where(v >= H * 0.8, top, 0.0)
    return _compose(caps, top, wall()), [(j, False)]


def no_hand(kind: str) -> np.ndarray:
    """'wall' at 500 mm, 'torso' (a 300 mm wide capsule body at 700 mm) or 'table' (a tilted plane)."""
    if kind == "wall":
        return _compose(np.zeros((0, 7)), wall(500.0))
    if kind == "torso":
        return _compose(np.array([[0.0, -150, 700, 0, 250, 720, 150]]), wall(1400.0))
    return _compose(np.zeros((0, 7)), _plane((0, -1, -0.5), (0, 0, 700)))
