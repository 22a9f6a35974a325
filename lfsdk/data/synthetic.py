"""Procedural articulated hand depth renderer: the data lfsdk's default model is trained and evaluated on.

A kinematic 21-joint right hand (lfsdk.skeletons.HAND21_NAMES) with adult bone lengths, a random
per-hand scale, and joint limits per finger (MCP flexion/abduction, PIP, DIP coupled to PIP, thumb CMC
opposition and flexion) is posed, rotated at random (the forearm never points at the camera) and placed
250–700 mm from the camera. Its surface is a set of capsules (fingers, palm, thenar, forearm); each pixel's
ray is intersected with the capsules whose projected box contains it — all (capsule, pixel) pairs of a
frame in one vectorised NumPy pass — and a z-buffer keeps the nearest hit. Then sensor effects: depth noise
growing with distance², dropped pixels along depth edges and at random, quantisation to uint16 mm, and
optionally background clutter (a wall/table plane and blobs, always more than `CLUTTER_GAP` mm behind the
hand so the near-band hand-centre rule still isolates the hand).

Deterministic per seed: frame i of `render_batch(n, seed)` is `render_hand((seed, i))`.

Hand frame (mm): origin at the wrist, +y along the middle finger, +x towards the thumb, +z out of the palm.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence, Union

import numpy as np
import torch

from lfsdk.geometry import Camera, xyz_to_uvd

from lfsdk.skeletons import get_skeleton, joints_for_layout

from .raycast import pixel_rays, raycast_capsules

__all__ = ["SyntheticFrame", "SyntheticBatch", "render_hand", "render_batch", "RenderOptions", "CLUTTER_GAP",
           "HandModel", "sample_hand", "place_hand", "pixel_to_camera", 
           "sensor_effects", "background_clutter", "sample_clutter", "check_size", "axis_rotation"]

SeedLike = Union[int, Sequence[int], np.random.Generator, None]
#: Clutter is at least this far (mm) behind the hand's nearest point: beyond the 150 mm hand-centre band.
CLUTTER_GAP = 250.0


@dataclass(frozen=True)
class RenderOptions:
    """Sensor and scene settings. Noise σ(z) = noise_mm + noise_quad · (z/1000 mm)² (structured-light-like)."""

    noise_mm: float = 0.8
    noise_quad: float = 2.0
    edge_dropout: float = 0.5  # probability of losing a pixel on a depth edge (> edge_jump mm)
    edge_jump: float = 15.0
    random_dropout: float = 0.002
    clutter: bool = False
    distance: tuple[float, float] = (250.0, 700.0)  # palm-centre depth range, mm
    scale: tuple[float, float] = (0.85, 1.15)  # per-hand size factor
    margin: float = 0.2  # palm centre stays this fraction of the image away from its border
    forearm: tuple[float, float] = (60.0, 200.0)  # visible forearm length range, mm (a sleeve cuts it)
    rotation_deg: float = 180.0  # < 180: at most this far (random axis) from palm-to-camera, fingers up


@dataclass(frozen=True)
class SyntheticFrame:
    depth: np.ndarray  # (H, W) uint16 mm, 0 = missing
    joints_xyz: np.ndarray  # (M, 3) float32 camera mm, in the requested layout
    joints_uvd: np.ndarray  # (M, 3) float32 (u px, v px, d mm)
    camera: Camera
    layout: str
    hand21_xyz: np.ndarray  # (21, 3) the full kinematic hand, camera mm
    capsules: np.ndarray  # (P, 7) float32 (a xyz, b xyz, radius) of everything rendered, camera mm
    joint_radii: np.ndarray  # (21,) flesh radius around each joint of hand21 (mm)


@dataclass(frozen=True)
class SyntheticBatch:
    depth: np.ndarray  # (N, H, W) uint16
    joints_xyz: np.ndarray  # (N, M, 3) float32
    joints_uvd: np.ndarray  # (N, M, 3) float32
    camera: Camera
    layout: str
    seed: int

    def __len__(self) -> int:
        return len(self.depth)


# ---------------------------------------------------------------------------------------------- hand model
# Per finger (index, middle, ring, little): MCP position in the hand frame (mm), phalanx lengths
# (proximal, middle, distal) and flesh radii — adult averages (Buryanov & Kotiuk 2010; Alexander 2010).
_MCP = np.array([[22.0, 80.0, 0.0], [3.0, 83.0, 0.0], [-15.0, 78.0, 0.0], [-31.0, 69.0, 0.0]])
_PHALANX = np.array([[40.0, 24.0, 21.0], [45.0, 28.0, 22.0], [42.0, 27.0, 21.0], [33.0, 19.0, 19.0]])
_FINGER_R = np.array([[9.5, 8.5, 7.5], [9.8, 8.8, 7.8], [9.2, 8.3, 7.3], [8.3, 7.5, 6.8]])
_SPLAY = np.radians([8.0, 0.0, -8.0, -16.0])  # rest direction of each finger about +z
_THUMB_CMC = np.array([24.0, 22.0, 6.0])
_THUMB_LEN = np.array([45.0, 32.0, 28.0])  # metacarpal, proximal, distal
_THUMB_R = np.array([13.0, 10.5, 9.0])
_PALM_R, _FOREARM_R, _FOREARM_LEN = 12.0, 24.0, 260.0
# Palm: capsules from a base at the wrist to each MCP, across the MCPs, and across the wrist.
_PALM_BASE = np.array([[12.0, 6.0, 0.0], [2.0, 6.0, 0.0], [-8.0, 6.0, 0.0], [-17.0, 8.0, 0.0]])
_TIP_INSET = 0.3  # the tip joint sits this fraction of the distal radius inside the fingertip's surface


def axis_rotation(axis: np.ndarray, ang: np.ndarray) -> np.ndarray:
    """(..., 3) unit axes, (...) angles → (..., 3, 3) rotation matrices (Rodrigues)."""
    x, y, z = np.moveaxis(axis, -1, 0)
    c, s = np.cos(ang), np.sin(ang)
    t = 1 - c
    return np.stack([np.stack([c + x * x * t, x * y * t - z * s, x * z * t + y * s], -1),
                     np.stack([y * x * t + z * s, c + y * y * t, y * z * t - x * s], -1),
                     np.stack([z * x * t - y * s, z * y * t + x * s, c + z * z * t], -1)], -2)


def _chain(base: np.ndarray, fwd: np.ndarray, normal: np.ndarray, lengths: np.ndarray,
           flex: np.ndarray) -> list[np.ndarray]:
    """Walk a finger: from `base`, bend `fwd` towards `normal` by each flexion angle, step each length.
    Shapes: (3,) vectors, lengths (3,), flex (3,) rad → four (3,) points (base + three joints)."""
    pts, p, f, n = [base], base, fwd, normal
    for length, th in zip(lengths, flex):
        f, n = np.cos(th) * f + np.sin(th) * n, -np.sin(th) * f + np.cos(th) * n
        p = p + length * f
        pts.append(p)
    return pts


def _sample_pose(rng: np.random.Generator) -> dict:
    """Joint angles (rad) within anatomical limits; 60 % of hands share one grip level across fingers."""
    grip = rng.uniform(0, 1)
    curl = np.clip(grip + rng.normal(0, 0.2, 4), 0, 1) if rng.random() < 0.6 else rng.uniform(0, 1, 4)
    mcp = np.clip(curl * 85 + rng.normal(0, 12, 4), -20, 90)
    pip = np.clip(curl * 100 + rng.normal(0, 12, 4), 0, 110)
    dip = np.clip(pip * 2 / 3 + rng.normal(0, 8, 4), 0, 80)
    abd = (1 - 0.7 * curl) * np.clip(rng.normal(0, 8, 4), -15, 15)
    thumb = np.array([rng.uniform(0, 60), rng.uniform(-10, 40), rng.uniform(0, 55), rng.uniform(-10, 80)])
    return {"mcp": np.radians(mcp), "pip": np.radians(pip), "dip": np.radians(dip), "abd": np.radians(abd),
            "thumb": np.radians(thumb)}


def _posed_hand(rng: np.random.Generator, scale: float,
                forearm: float = _FOREARM_LEN) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A posed right hand in its own frame: joints (21, 3) mm, capsules (P, 7), joint radii (21,)."""
    pose = _sample_pose(rng)
    jitter = rng.uniform(0.95, 1.05, size=(4, 3))
    joints = np.zeros((21, 3))
    radii = np.zeros(21)
    caps = []
    z = np.array([0.0, 0.0, 1.0])
    for k in range(4):
        fwd = np.array([-np.sin(_SPLAY[k] + pose["abd"][k]), np.cos(_SPLAY[k] + pose["abd"][k]), 0.0])
        r = _FINGER_R[k] * scale
        pts = _chain(_MCP[k] * scale, fwd, z, _PHALANX[k] * jitter[k] * scale,
                     (pose["mcp"][k], pose["pip"][k], pose["dip"][k]))
        joints[1 + 4 * k: 5 + 4 * k] = pts
        radii[1 + 4 * k: 5 + 4 * k] = (r[0], r[0], r[1], r[2])
        tip_dir = (pts[3] - pts[2]) / np.linalg.norm(pts[3] - pts[2])
        end = pts[3] - (1 - _TIP_INSET) * r[2] * tip_dir  # the cap's surface lies just beyond the tip joint
        caps += [(*pts[0], *pts[1], r[0]), (*pts[1], *pts[2], r[1]), (*pts[2], *end, r[2])]
        caps.append((*(_PALM_BASE[k] * scale), *pts[0], _PALM_R * scale))
    # Thumb: rest direction up and out; opposition lifts it out of the palm plane, CMC flexion swings it
    # across the palm, MCP and IP bend it towards the palm centre.
    opp, cmc_flex, t_mcp, t_ip = pose["thumb"]
    fwd = np.array([np.cos(np.radians(50)), np.sin(np.radians(50)), 0.0])
    fwd = np.cos(opp) * fwd + np.sin(opp) * z
    normal = np.array([-0.6, 0.0, 0.8])
    normal = normal - fwd * (normal @ fwd)
    normal /= np.linalg.norm(normal)
    r = _THUMB_R * scale
    pts = _chain(_THUMB_CMC * scale, fwd, normal, _THUMB_LEN * scale, (cmc_flex, t_mcp, t_ip))
    joints[17:21] = pts
    radii[17:21] = (r[0], r[0], r[1], r[2])
    tip_dir = (pts[3] - pts[2]) / np.linalg.norm(pts[3] - pts[2])
    end = pts[3] - (1 - _TIP_INSET) * r[2] * tip_dir
    caps += [(*pts[0], *pts[1], r[0]), (*pts[1], *pts[2], r[1]), (*pts[2], *end, r[2])]
    caps.append((*(_PALM_BASE[0] * scale), *pts[0], r[0]))  # thenar eminence
    caps.append((*joints[1], *joints[13], _PALM_R * scale))  # across the knuckles
    caps.append((*(_PALM_BASE[0] * scale), *(_PALM_BASE[3] * scale), _PALM_R * scale))  # across the wrist
    fr = _FOREARM_R * scale
    caps.append((0.0, -0.5 * fr, 0.0, 0.0, -forearm, 0.0, fr))
    radii[0] = fr
    return joints, np.asarray(caps), radii


def _random_rotation(rng: np.random.Generator, max_deg: float = 180.0) -> np.ndarray:
    """Random rotation whose forearm direction (−y of the hand) does not point at the camera: uniform over
    all rotations when max_deg ≥ 180, else within max_deg (about a random axis) of palm-to-camera, fingers up."""
    while True:
        if max_deg >= 180:
            q = rng.normal(size=4)
            w, x, y, z = q / np.linalg.norm(q)
            r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                          [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                          [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        else:
            axis = rng.normal(size=3)
            turn = axis_rotation(axis / np.linalg.norm(axis), np.radians(rng.uniform(0, max_deg)))
            r = turn @ np.diag([1.0, -1.0, -1.0])
        if -r[2, 1] > -0.3:  # camera-z component of the forearm direction
            return r


@dataclass(frozen=True)
class HandModel:
    """A posed right hand in its own frame (mm) and the rotation that will take it into the camera frame."""

    joints: np.ndarray  # (21, 3) HAND21 joints
    capsules: np.ndarray  # (P, 7) (a xyz, b xyz, radius); the last one is the forearm
    radii: np.ndarray  # (21,) flesh radius around each joint
    rotation: np.ndarray  # (3, 3) hand frame → camera frame

    @property
    def palm(self) -> np.ndarray:
        """(3,) the palm centre in the hand frame (ICVL's first joint)."""
        return joints_for_layout(self.joints, "icvl")[0]


def sample_hand(rng: np.random.Generator, options: RenderOptions = RenderOptions(),
                forearm: float | None = None) -> HandModel:
    """Random size, visible forearm length (unless given, mm), pose and rotation (options.rotation_deg)."""
    scale = rng.uniform(*options.scale)
    joints, caps, radii = _posed_hand(rng, scale, rng.uniform(*options.forearm) if forearm is None else forearm)
    return HandModel(joints, caps, radii, _random_rotation(rng, options.rotation_deg))


def place_hand(hand: HandModel, palm_target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate the hand and move its palm centre to palm_target (3,) camera mm → (joints (21, 3), caps (P, 7))."""
    rot = hand.rotation
    shift = palm_target - rot @ hand.palm
    caps = hand.capsules
    return hand.joints @ rot.T + shift, np.concatenate((caps[:, :3] @ rot.T + shift,
                                                         caps[:, 3:6] @ rot.T + shift, caps[:, 6:]), 1)


def pixel_to_camera(u: float, v: float, z: float, camera: Camera) -> np.ndarray:
    """Pixel (u, v) at depth z mm → (3,) camera-frame point, mm."""
    return np.array([(u - camera.cx) * z / camera.fx, (v - camera.cy) * z / camera.fy, z])


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    """(H, W) → ints, or ValueError when either is below 8 pixels."""
    h, w = int(size[0]), int(size[1])
    if h < 8 or w < 8:
        raise ValueError(f"size must be (H, W) with both ≥ 8, got {size}")
    return h, w


# ------------------------------------------------------------------------------------------------ raycast
def sample_clutter(rng: np.random.Generator, near: float, camera: Camera, h: int,
                   w: int) -> tuple[float, np.ndarray, np.ndarray]:
    """The random draws of background_clutter, in its order: (plane depth on the optical axis d0 mm, plane
    normal (3,) — the plane is normal · x = normal · (0, 0, d0) —, blob capsules (K, 7)), all ≥ CLUTTER_GAP
    behind `near`. Shared with the torch renderer so both draw the same scene from the same generator."""
    d0 = near + CLUTTER_GAP + rng.uniform(50, 600)
    normal = np.array([rng.normal(0, 0.3), rng.normal(0, 0.3), -1.0])
    normal /= np.linalg.norm(normal)
    blobs = []
    for _ in range(rng.integers(0, 4)):
        r = rng.uniform(30, 120)
        zc = near + CLUTTER_GAP + r + rng.uniform(0, 500)
        u, v = rng.uniform(0, w), rng.uniform(0, h)
        c = np.array([(u - camera.cx) * zc / camera.fx, (v - camera.cy) * zc / camera.fy, zc])
        e = c + rng.normal(0, r, 3) * np.array([1, 1, 0])
        blobs.append((*c, *e, r))
    return d0, normal, np.asarray(blobs, dtype=float).reshape(-1, 7)


@lru_cache(maxsize=8)
def background_clutter(rng: np.random.Generator, near: float, camera: Camera, h: int,
                       w: int) -> tuple[np.ndarray, np.ndarray]:
    """Background: a tilted plane and a few blobs, all ≥ CLUTTER_GAP behind `near`. Returns (depth (H, W)
    of the plane, 0 where it is not seen; blob capsules (K, 7))."""
    rd = pixel_rays(camera, h, w)
    d0, normal, blobs = sample_clutter(rng, near, camera, h, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (normal @ np.array([0, 0, d0])) / (rd @ normal)
    plane = np.where((t > 0) & np.isfinite(t), t * rd[:, 2], 0.0).reshape(h, w)
    plane = np.where(plane >= near + CLUTTER_GAP, np.minimum(plane, 5000), 0.0)
    return plane, blobs


def sensor_effects(rng: np.random.Generator, depth: np.ndarray, opts: RenderOptions) -> np.ndarray:
    """Noise, edge and random dropout, uint16 quantisation. depth (H, W) float mm → (H, W) uint16."""
    valid = depth > 0
    sigma = opts.noise_mm + opts.noise_quad * (depth / 1000.0) ** 2
    noisy = depth + rng.normal(size=depth.shape) * sigma
    # A pixel is on an edge if a 4-neighbour differs by more than edge_jump (or is missing).
    pad = np.pad(depth, 1, mode="edge")
    jump = np.zeros(depth.shape, bool)
    for nb in (pad[:-2, 1:-1], pad[2:, 1:-1], pad[1:-1, :-2], pad[1:-1, 2:]):
        jump |= np.abs(nb - depth) > opts.edge_jump
    drop = (jump & (rng.random(depth.shape) < opts.edge_dropout)) | (rng.random(depth.shape) < opts.random_dropout)
    out = np.where(valid & ~drop, np.clip(np.rint(noisy), 1, 65535), 0)
    return out.astype(np.uint16)


def _rng(seed: SeedLike) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def render_hand(seed: SeedLike = None, camera: Camera | str = "icvl", layout: str = "nyu",
                size: tuple[int, int] = (240, 320), options: RenderOptions = RenderOptions(),
                clutter: bool | None = None, noise: bool = True) -> SyntheticFrame:
    """Render one random hand. `seed` an int, a sequence of ints, or a Generator (deterministic per seed).

    size is (H, W); clutter overrides options.clutter; noise=False returns the exact float z-buffer rounded
    to mm, with no noise or dropout (for tests of the geometry).
    """
    rng = _rng(seed)
    camera = Camera.parse(camera)
    h, w = check_size(size)
    skeleton = get_skeleton(layout)
    hand = sample_hand(rng, options)
    zc = rng.uniform(*options.distance)
    uc = rng.uniform(options.margin, 1 - options.margin) * w
    vc = rng.uniform(options.margin, 1 - options.margin) * h
    joints, caps = place_hand(hand, pixel_to_camera(uc, vc, zc, camera))
    depth, _ = raycast_capsules(caps, camera, h, w)
    if options.clutter if clutter is None else clutter:
        near = depth[depth > 0].min() if (depth > 0).any() else zc
        plane, blobs = background_clutter(rng, near, camera, h, w)
        if len(blobs):
            bd, _ = raycast_capsules(blobs, camera, h, w)
            plane = np.where((bd > 0) & ((plane == 0) | (bd < plane)), bd, plane)
        depth = np.where(depth > 0, depth, plane)
        caps = np.concatenate((caps, blobs), 0)
    if noise:
        img = sensor_effects(rng, depth, options)
    else:
        img = np.clip(np.rint(depth), 0, 65535).astype(np.uint16)
    xyz = joints_for_layout(joints, skeleton).astype(np.float32)
    uvd = xyz_to_uvd(torch.from_numpy(xyz), camera).numpy()
    return SyntheticFrame(img, xyz, uvd, camera, skeleton.name, joints.astype(np.float32),
                          caps.astype(np.float32), hand.radii.astype(np.float32))


def render_batch(n: int, seed: int = 0, camera: Camera | str = "icvl", layout: str = "nyu",
                 size: tuple[int, int] = (240, 320), options: RenderOptions = RenderOptions(),
                 clutter: bool | None = None, progress: bool = False) -> SyntheticBatch:
    """n frames; frame i is render_hand((seed, i), ...), so any frame can be re-rendered alone."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    camera = Camera.parse(camera)
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="render", unit="frame")
    frames = [render_hand((seed, i), camera, layout, size, options, clutter) for i in it]
    return SyntheticBatch(np.stack([f.depth for f in frames]), np.stack([f.joints_xyz for f in frames]),
                          np.stack([f.joints_uvd for f in frames]), camera, frames[0].layout, seed)
