"""Rendered depth scenes for hand localisation: hands among the things a real camera also sees.

Scene classes (SCENE_CLASSES), each a random draw of its kind:

    lone_hand   a hand and sleeve-cut forearm as in training (lfsdk.data.synthetic), clutter 30 % of frames
    arm_torso   a raised hand 450–600 mm away, its whole forearm, an upper arm to the shoulder of a torso (with
                head) 300–400 mm behind the hand, and a wall behind that
    border      a hand whose palm centre is 4–15 % of the frame from a border, with joints outside it
    artefacts   a lone hand before a wall with flying pixels, specks 1–3 px wide nearer than the hand,
                holes, saturated and max-range pixels
    desk        a hand above a desk whose edge and top are nearer than the hand, and a wall
    two_hands   a right hand and a left hand (the right hand model mirrored in its own frame) side by side
    wall, torso, table, empty   no hand: a tilted wall; a torso with hanging arms before a wall; a desk top
                before a wall; nothing in range (a blank frame or a wall 2.5–4 m away)

Every frame gets the renderer's sensor model (depth noise, edge and random dropout, uint16 mm). Ground truth
per hand: joints (camera mm and uvd) in the requested layout, handedness, palm centre (ICVL's palm joint);
per frame: the class and a hand mask (which hand's palm or finger each pixel sees, before sensor effects).
Deterministic per seed: frame i of `render_scenes(n, seed, classes)` is
`render_scene((seed, i), classes[i % len(classes)])`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
import torch

from lfsdk.geometry import Camera, xyz_to_uvd

from . import scene_parts as parts
from .skeletons import get_skeleton, joints_for_layout
from .synthetic import (HandModel, RenderOptions, SeedLike, background_clutter, check_size, pixel_to_camera,
                        place_hand, raycast_capsules, sample_hand, sensor_effects)

__all__ = ["SCENE_CLASSES", "HAND_CLASSES", "NO_HAND_CLASSES", "MAX_HANDS", "SCENE_SEEDS", "HandTruth",
           "SceneFrame", "SceneBatch", "render_scene", "render_scenes", "mirror_hand"]

HAND_CLASSES = ("lone_hand", "arm_torso", "border", "artefacts", "desk", "two_hands")
NO_HAND_CLASSES = ("wall", "torso", "table", "empty")
SCENE_CLASSES = HAND_CLASSES + NO_HAND_CLASSES
MAX_HANDS = 2
#: Fixed seeds per split; none is a seed of the single-hand synthetic sets (dataset.SYNTHETIC_SEEDS), so a
#: scene never repeats a training hand. The scene benchmark renders "test" only.
SCENE_SEEDS = {"train": 101, "val": 102, "test": 2021}
_TRAIN = RenderOptions()  # the training distribution of hand size, pose and distance


@dataclass(frozen=True)
class HandTruth:
    joints_xyz: np.ndarray  # (M, 3) float32 camera mm, in the scene's layout
    joints_uvd: np.ndarray  # (M, 3) float32 (u px, v px, d mm)
    handedness: str  # 'left' or 'right'
    palm_xyz: np.ndarray  # (3,) float32 palm centre (mean of the wrist and the four finger MCPs), mm
    palm_uvd: np.ndarray  # (3,) float32
    hand21_xyz: np.ndarray  # (21, 3) float32 the full kinematic hand, camera mm


@dataclass(frozen=True)
class SceneFrame:
    depth: np.ndarray  # (H, W) uint16 mm, 0 = missing
    scene_class: str
    hands: tuple[HandTruth, ...]  # 0, 1 or 2 hands
    hand_mask: np.ndarray  # (H, W) int8: k + 1 where hand k's palm or fingers is the nearest surface, else 0
    camera: Camera
    layout: str


@dataclass(frozen=True)
class SceneBatch:
    depth: np.ndarray  # (N, H, W) uint16
    scene_class: np.ndarray  # (N,) str
    num_hands: np.ndarray  # (N,) int64
    joints_xyz: np.ndarray  # (N, MAX_HANDS, M, 3) float32, NaN for absent hands
    joints_uvd: np.ndarray  # (N, MAX_HANDS, M, 3) float32, NaN for absent hands
    palm_xyz: np.ndarray  # (N, MAX_HANDS, 3) float32, NaN for absent hands
    palm_uvd: np.ndarray  # (N, MAX_HANDS, 3) float32, NaN for absent hands
    handedness: np.ndarray  # (N, MAX_HANDS) str, '' for absent hands
    hand_mask: np.ndarray  # (N, H, W) int8
    camera: Camera
    layout: str
    seed: int

    def __len__(self) -> int:
        return len(self.depth)


def mirror_hand(hand: HandModel) -> HandModel:
    """The mirror image of a hand in its own frame (x → −x): a right hand becomes a left hand. The rotation
    into the camera frame stays a proper rotation, so the placed hand is a genuine left hand."""
    flip = np.array([-1.0, 1.0, 1.0])
    caps = hand.capsules.copy()
    caps[:, :3] *= flip
    caps[:, 3:6] *= flip
    return replace(hand, joints=hand.joints * flip, capsules=caps)


# ------------------------------------------------------------------------------------------------- canvas
class _Canvas:
    """Collects capsules (with the hand each belongs to) and surfaces, then z-buffers them in one pass."""

    def __init__(self, rng: np.random.Generator, camera: Camera, h: int, w: int, layout: str):
        self.rng, self.camera, self.h, self.w, self.layout = rng, camera, h, w, layout
        self.caps: list[np.ndarray] = []
        self.owner: list[np.ndarray] = []
        self.surfaces: list[np.ndarray] = []
        self.hands: list[HandTruth] = []
        self.hand_caps: list[np.ndarray] = []

    def add_capsules(self, caps: np.ndarray, owner: np.ndarray | int = 0) -> None:
        self.caps.append(np.asarray(caps, dtype=float).reshape(-1, 7))
        self.owner.append(np.broadcast_to(np.asarray(owner, dtype=np.int8), (len(self.caps[-1]),)))

    def add_surface(self, depth: np.ndarray) -> None:
        self.surfaces.append(depth)

    def add_hand(self, hand: HandModel, palm: np.ndarray, side: str) -> np.ndarray:
        """Place `hand` with its palm centre at palm (3,) mm; returns its capsules (P, 7), forearm last."""
        joints, caps = place_hand(hand, palm)
        owner = np.full(len(caps), len(self.hands) + 1, np.int8)
        owner[-1] = 0  # the forearm is not the hand
        self.add_capsules(caps, owner)
        self.hand_caps.append(caps)
        xyz = joints_for_layout(joints, self.layout).astype(np.float32)
        palm_xyz = joints_for_layout(joints, "icvl")[0].astype(np.float32)
        uvd = xyz_to_uvd(torch.from_numpy(np.concatenate((xyz, palm_xyz[None]))), self.camera).numpy()
        self.hands.append(HandTruth(xyz, uvd[:-1], side, palm_xyz, uvd[-1], joints.astype(np.float32)))
        return caps

    def zbuffer(self) -> tuple[np.ndarray, np.ndarray]:
        """(depth (H, W) float mm, 0 = nothing; hand mask (H, W) int8)."""
        depth = np.zeros((self.h, self.w))
        mask = np.zeros((self.h, self.w), np.int8)
        if self.caps:
            depth, part = raycast_capsules(np.concatenate(self.caps), self.camera, self.h, self.w)
            mask = np.where(part >= 0, np.concatenate(self.owner)[part], 0).astype(np.int8)
        for s in self.surfaces:
            nearer = (s != 0) & ((depth == 0) | (s < depth))  # TOO_NEAR (< 0) hides everything behind
            depth = np.where(nearer, s, depth)
            mask = np.where(nearer, 0, mask).astype(np.int8)
        return np.maximum(depth, 0.0), mask

    def hand_near(self) -> float:
        """The nearest depth (mm) of the hands (with their forearms): the smallest z of any capsule is at one
        of its end spheres, and nothing can hide that point, so this is the rendered minimum when it is in
        the frame (and nearer than anything rendered when it is not)."""
        caps = np.concatenate(self.hand_caps)
        return float((np.minimum(caps[:, 2], caps[:, 5]) - caps[:, 6]).min())


def _palm_at(canvas: _Canvas, u: float, v: float, z: float) -> np.ndarray:
    """Palm target from fractions (u, v) of the frame and depth z mm."""
    return pixel_to_camera(u * canvas.w, v * canvas.h, z, canvas.camera)


# ------------------------------------------------------------------------------------------ scene classes
def _training_hand(c: _Canvas) -> None:
    """A hand drawn as the training set draws it (size, pose, rotation, distance, margin)."""
    hand = sample_hand(c.rng, _TRAIN)
    r = c.rng.uniform(_TRAIN.margin, 1 - _TRAIN.margin, 2)
    c.add_hand(hand, _palm_at(c, r[0], r[1], c.rng.uniform(*_TRAIN.distance)), "right")


def _lone_hand(c: _Canvas) -> None:
    _training_hand(c)
    if c.rng.random() < 0.3:
        _clutter(c)


def _hand_before_wall(c: _Canvas) -> None:
    _training_hand(c)
    c.add_surface(parts.wall(c.rng, c.hand_near() + c.rng.uniform(250, 1000), c.camera, c.h, c.w))


def _clutter(c: _Canvas) -> None:
    plane, blobs = background_clutter(c.rng, c.hand_near(), c.camera, c.h, c.w)
    c.add_surface(plane)
    c.add_capsules(blobs)


def _arm_torso(c: _Canvas) -> None:
    for _ in range(50):  # a raised forearm: pointing down in the image, at most 37° away from the camera
        hand = sample_hand(c.rng, _TRAIN, forearm=250.0)
        fore = hand.rotation @ np.array([0.0, -1.0, 0.0])
        if -0.05 < fore[2] < 0.6 and fore[1] > 0.2:
            break
    z = c.rng.uniform(450, 600)
    caps = c.add_hand(hand, _palm_at(c, c.rng.uniform(0.25, 0.75), c.rng.uniform(0.2, 0.55), z), "right")
    elbow = caps[-1, 3:6]
    zt = z + c.rng.uniform(300, 400)  # the chest's front
    shoulder = np.array([elbow[0] + c.rng.uniform(-120, 120), elbow[1] - c.rng.uniform(50, 250), zt - 20])
    c.add_capsules(np.array([[*elbow, *shoulder, 40.0]]))
    side = 1.0 if c.rng.random() < 0.5 else -1.0
    c.add_capsules(parts.torso(c.rng, shoulder, side, arm_down=False))
    c.add_surface(parts.wall(c.rng, zt + c.rng.uniform(300, 1500), c.camera, c.h, c.w, 20.0))


def _border(c: _Canvas) -> None:
    for _ in range(50):  # until some joint is outside the frame: the hand is partly cut off
        hand = sample_hand(c.rng, _TRAIN)
        edge, along = c.rng.uniform(0.04, 0.15), c.rng.uniform(0.2, 0.8)
        u, v = [(edge, along), (1 - edge, along), (along, edge), (along, 1 - edge)][int(c.rng.integers(4))]
        palm = _palm_at(c, u, v, c.rng.uniform(300, 650))
        joints, _ = place_hand(hand, palm)
        uv = joints[:, :2] / joints[:, 2:] * (c.camera.fx, c.camera.fy) + (c.camera.cx, c.camera.cy)
        if ((uv < 0) | (uv >= (c.w, c.h))).any():
            break
    c.add_hand(hand, palm, "right")
    if c.rng.random() < 0.5:
        _clutter(c)


def _two_hands(c: _Canvas) -> None:
    right, left = sample_hand(c.rng, _TRAIN), mirror_hand(sample_hand(c.rng, _TRAIN))
    z = c.rng.uniform(350, 650)
    zs = (z, z + c.rng.uniform(-100, 100))
    gap = c.rng.uniform(80, 160, 2)  # mm from the midpoint to each palm
    mid = _palm_at(c, c.rng.uniform(0.4, 0.6), 0.5, z)[0]
    order = (right, left) if c.rng.random() < 0.5 else (left, right)
    for k, (hand, sign) in enumerate(zip(order, (-1.0, 1.0))):
        x = mid + sign * gap[k]
        y = (c.rng.uniform(0.3, 0.7) * c.h - c.camera.cy) * zs[k] / c.camera.fy
        c.add_hand(hand, np.array([x, y, zs[k]]), "left" if hand is left else "right")
    if c.rng.random() < 0.5:
        _clutter(c)


def _desk(c: _Canvas) -> None:
    hand = sample_hand(c.rng, _TRAIN)
    z = c.rng.uniform(350, 650)
    c.add_hand(hand, _palm_at(c, c.rng.uniform(0.25, 0.75), c.rng.uniform(0.2, 0.45), z), "right")
    c.add_surface(_desk_top(c, c.hand_near() - c.rng.uniform(40, 200)))
    c.add_surface(parts.wall(c.rng, z + c.rng.uniform(300, 1200), c.camera, c.h, c.w))


def _desk_top(c: _Canvas, z_edge: float) -> np.ndarray:
    """A desk top whose far edge is below the hand's lowest joint in the image, at depth z_edge mm."""
    uvd = c.hands[-1].joints_uvd if c.hands else np.array([[c.w / 2, c.rng.uniform(0.2, 0.7) * c.h, 0]])
    v_edge = min(float(np.max(uvd[:, 1])) + c.rng.uniform(3, 30), c.h - 6.0)
    u_edge = float(np.clip(np.mean(uvd[:, 0]), 0, c.w - 1))
    return parts.desk(c.rng, pixel_to_camera(u_edge, v_edge, max(z_edge, 150.0), c.camera), c.camera, c.h, c.w)


def _wall(c: _Canvas) -> None:
    c.add_surface(parts.wall(c.rng, c.rng.uniform(400, 1500), c.camera, c.h, c.w, 40.0))


def _torso(c: _Canvas) -> None:
    zt = c.rng.uniform(500, 1500)
    shoulder = _palm_at(c, c.rng.uniform(0.2, 0.8), c.rng.uniform(0.1, 0.5), zt)
    c.add_capsules(parts.torso(c.rng, shoulder, 1.0 if c.rng.random() < 0.5 else -1.0))
    c.add_surface(parts.wall(c.rng, zt + c.rng.uniform(300, 1500), c.camera, c.h, c.w, 20.0))


def _table(c: _Canvas) -> None:
    c.add_surface(_desk_top(c, c.rng.uniform(350, 900)))
    c.add_surface(parts.wall(c.rng, c.rng.uniform(1000, 2500), c.camera, c.h, c.w))


def _empty(c: _Canvas) -> None:
    if c.rng.random() < 0.5:
        c.add_surface(parts.wall(c.rng, c.rng.uniform(2700, 4000), c.camera, c.h, c.w, 15.0))


_BUILDERS: dict[str, Callable[[_Canvas], None]] = {
    "lone_hand": _lone_hand, "arm_torso": _arm_torso, "border": _border, "artefacts": _hand_before_wall,
    "desk": _desk, "two_hands": _two_hands, "wall": _wall, "torso": _torso, "table": _table, "empty": _empty,
}


def _artefacts(c: _Canvas, img: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Flying pixels, near specks, holes and saturated pixels on a lone-hand frame (before a wall)."""
    img = parts.flying_pixels(c.rng, img, clean, c.rng.uniform(0.2, 0.6))
    img = parts.specks(c.rng, img, c.hand_near(), c.hands[0].palm_uvd[:2], int(c.rng.integers(1, 5)))
    img = parts.holes(c.rng, img, mask > 0, int(c.rng.integers(1, 5)))
    return parts.saturate(c.rng, img, int(c.rng.integers(1, 4)))


# -------------------------------------------------------------------------------------------------- API
def render_scene(seed: SeedLike = None, scene_class: str = "lone_hand", camera: Camera | str = "icvl",
                 layout: str = "nyu", size: tuple[int, int] = (240, 320)) -> SceneFrame:
    """Render one scene of `scene_class` (one of SCENE_CLASSES); deterministic per seed (an int, a
    sequence of ints or a Generator). size is (H, W); layout names the joint layout of the ground truth."""
    if scene_class not in _BUILDERS:
        raise ValueError(f"unknown scene class {scene_class!r}: expected one of {list(SCENE_CLASSES)}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    camera = Camera.parse(camera)
    h, w = check_size(size)
    canvas = _Canvas(rng, camera, h, w, get_skeleton(layout).name)
    _BUILDERS[scene_class](canvas)
    clean, mask = canvas.zbuffer()
    img = sensor_effects(rng, clean, _TRAIN)
    if scene_class == "artefacts":
        img = _artefacts(canvas, img, clean, mask)
    return SceneFrame(img, scene_class, tuple(canvas.hands), mask, camera, canvas.layout)


def render_scenes(n: int, seed: int = 0, classes: Sequence[str] = SCENE_CLASSES, camera: Camera | str = "icvl",
                  layout: str = "nyu", size: tuple[int, int] = (240, 320), progress: bool = False) -> SceneBatch:
    """n scenes cycling through `classes`; frame i is render_scene((seed, i), classes[i % len(classes)])."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    classes = tuple(classes)
    bad = [c for c in classes if c not in _BUILDERS]
    if not classes or bad:
        raise ValueError(f"classes must be a non-empty list of {list(SCENE_CLASSES)}, got {list(classes)}")
    camera = Camera.parse(camera)
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="render scenes", unit="frame")
    frames = [render_scene((seed, i), classes[i % len(classes)], camera, layout, size) for i in it]
    return _stack(frames, seed)


def _stack(frames: list[SceneFrame], seed: int) -> SceneBatch:
    n, m = len(frames), get_skeleton(frames[0].layout).num_joints
    xyz = np.full((n, MAX_HANDS, m, 3), np.nan, np.float32)
    uvd = xyz.copy()
    palm_xyz = np.full((n, MAX_HANDS, 3), np.nan, np.float32)
    palm_uvd = palm_xyz.copy()
    side = np.full((n, MAX_HANDS), "", dtype="<U5")
    for i, f in enumerate(frames):
        for k, hand in enumerate(f.hands):
            xyz[i, k], uvd[i, k], side[i, k] = hand.joints_xyz, hand.joints_uvd, hand.handedness
            palm_xyz[i, k], palm_uvd[i, k] = hand.palm_xyz, hand.palm_uvd
    return SceneBatch(np.stack([f.depth for f in frames]), np.array([f.scene_class for f in frames]),
                      np.array([len(f.hands) for f in frames], np.int64), xyz, uvd, palm_xyz, palm_uvd, side,
                      np.stack([f.hand_mask for f in frames]), frames[0].camera, frames[0].layout, seed)
