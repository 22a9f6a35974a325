"""Rendered depth sequences with ground truth, for tests and the tracking benchmark (no camera needed).

Each scenario moves one or two posed hands (lfsdk.data.synthetic's kinematic hand; a left hand is a
mirrored right hand) along a smooth path of their palm centres and renders every frame with sensor noise:

    still        one hand held still (only the sensor noise changes): jitter
    step         a still hand that jumps `step_mm` sideways halfway: lag
    smooth       one hand drifting on a slow Lissajous path while turning a little
    crossing     a right hand in front and a left hand behind swap sides, crossing mid-sequence
    enter_leave  a hand enters at the left border, crosses the frame and leaves at the right
    swipe        a fast swipe (peak ≈ 1.5 m/s) across the frame between two still phases

Deterministic per seed: hand k's shape and pose come from seed (seed, 11, k), frame i's noise from
(seed, 7, i). Sleeves keep the forearm short (30–60 mm) so that a lone hand is one blob.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..data.raycast import raycast_capsules
from ..data.synthetic import RenderOptions, axis_rotation, sample_hand, sensor_effects
from ..geometry import Camera
from ..skeletons import get_skeleton, joints_for_layout
from .base import Frame, SourceError

__all__ = ["SyntheticSequence", "HandTruth", "SCENARIOS"]

SCENARIOS = ("still", "step", "smooth", "crossing", "enter_leave", "swipe")
#: a hand counts as visible when at least this much of it (mm² at its depth) is seen
VISIBLE_AREA_MM2 = 3000.0
_FOREARM_MM = (30.0, 60.0)


@dataclass(frozen=True)
class HandTruth:
    """Ground truth of one hand in one frame: joints (M, 3) in the sequence's layout, camera mm and uvd."""

    hand: int  # the hand's index in the sequence (its true identity)
    handedness: str  # 'left' or 'right'
    joints_xyz: np.ndarray
    joints_uvd: np.ndarray
    palm_xyz: np.ndarray  # (3,) the palm centre the path moves
    visible: bool  # at least VISIBLE_AREA_MM2 of it is seen (in the frame, not hidden)


@dataclass(frozen=True)
class _HandModel:
    joints: np.ndarray  # (21, 3) hand frame mm
    caps: np.ndarray  # (P, 7)
    rot: np.ndarray  # (3, 3) base orientation
    palm: np.ndarray  # (3,) palm centre, hand frame
    side: str


def _smoothstep(x: np.ndarray | float) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _paths(kind: str, duration: float, step_mm: float) -> list[Callable[[float], tuple[np.ndarray, float]]]:
    """Per hand: t s → (palm centre (3,) camera mm, roll about the camera axis in rad); t runs 0..duration."""
    z0 = 450.0
    if kind == "still":
        return [lambda t: (np.array([0.0, 0.0, z0]), 0.0)]
    if kind == "step":
        return [lambda t: (np.array([step_mm * (t >= duration / 2), 0.0, z0]), 0.0)]
    if kind == "smooth":
        return [lambda t: (np.array([60 * np.sin(2 * np.pi * 0.25 * t), 35 * np.sin(2 * np.pi * 0.35 * t),
                                     z0 + 40 * np.sin(2 * np.pi * 0.2 * t)]), 0.17 * np.sin(2 * np.pi * 0.3 * t))]
    if kind == "crossing":
        s = lambda t: _smoothstep(t / duration)  # noqa: E731
        return [lambda t: (np.array([-110 + 220 * s(t), 10.0, 400.0]), 0.0),
                lambda t: (np.array([160 - 320 * s(t), -10.0, 620.0]), 0.0)]
    if kind == "enter_leave":
        return [lambda t: (np.array([-360 + 720 * t / duration, 0.0, z0]), 0.0)]
    if kind == "swipe":
        return [lambda t: (np.array([-130 + 260 * _smoothstep((t - 0.4 * duration) / 0.3), 0.0, z0]), 0.0)]
    raise SourceError(f"unknown synthetic scenario {kind!r}: expected one of {SCENARIOS}")


def _hand_model(seed: int, k: int, side: str) -> _HandModel:
    rng = np.random.default_rng((seed, 11, k))
    # size, sleeve-cut forearm, pose, then a rotation within 25° of palm-to-camera (the same draws in order)
    hand = sample_hand(rng, RenderOptions(scale=(0.9, 1.1), forearm=_FOREARM_MM, rotation_deg=25.0))
    joints, caps = hand.joints, hand.capsules
    if side == "left":  # the mirror image of a right hand across its own y-z plane
        joints = joints * np.array([-1.0, 1.0, 1.0])
        caps = caps * np.array([-1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0])
    palm = joints_for_layout(joints, "icvl")[0]
    return _HandModel(joints, caps, hand.rotation, palm, side)


class SyntheticSequence:
    """SyntheticSequence("crossing", frames=60, fps=30, seed=0) → iterable of Frame; .truth[i] is the list
    of HandTruth of frame i (rendered on first use, then kept)."""

    def __init__(self, scenario: str, frames: int = 60, *, fps: float = 30.0, seed: int = 0,
                 camera: Camera | str = "icvl", size: tuple[int, int] = (240, 320), layout: str = "nyu",
                 step_mm: float = 40.0, noise: bool = True):
        if scenario not in SCENARIOS:
            raise SourceError(f"unknown synthetic scenario {scenario!r}: expected one of {SCENARIOS}")
        if not isinstance(frames, int) or frames < 2:
            raise SourceError(f"synthetic {scenario}: frames must be an int ≥ 2, got {frames!r}")
        if not (isinstance(fps, (int, float)) and 0 < fps < float("inf")):
            raise SourceError(f"synthetic {scenario}: fps must be a positive number, got {fps!r}")
        self.scenario, self.frames, self.fps, self.seed = scenario, frames, float(fps), int(seed)
        self.camera = Camera.parse(camera)
        self.size = (int(size[0]), int(size[1]))
        self.skeleton = get_skeleton(layout)
        self.noise = noise
        self._paths = _paths(scenario, (frames - 1) / self.fps, step_mm)  # t = duration at the last frame
        sides = ("right", "left")
        self._hands = [_hand_model(self.seed, k, sides[k % 2]) for k in range(len(self._paths))]
        self._cache: dict[int, tuple[np.ndarray, list[HandTruth]]] = {}

    def __len__(self) -> int:
        return self.frames

    @property
    def num_hands(self) -> int:
        return len(self._hands)

    def timestamp(self, i: int) -> float:
        return i / self.fps

    def render(self, i: int) -> tuple[np.ndarray, list[HandTruth]]:
        """Frame i: (depth (H, W) uint16 mm, one HandTruth per hand of the sequence)."""
        if not 0 <= i < self.frames:
            raise IndexError(f"frame {i} out of range for a sequence of {self.frames}")
        if i not in self._cache:
            self._cache[i] = self._render(i)
        return self._cache[i]

    def _render(self, i: int) -> tuple[np.ndarray, list[HandTruth]]:
        t = self.timestamp(i)
        caps, placed = [], []
        for hand, path in zip(self._hands, self._paths):
            palm, roll = path(t)
            rot = axis_rotation(np.array([0.0, 0.0, 1.0]), np.array(roll)) @ hand.rot
            shift = palm - rot @ hand.palm
            joints = hand.joints @ rot.T + shift
            caps.append(np.concatenate((hand.caps[:, :3] @ rot.T + shift, hand.caps[:, 3:6] @ rot.T + shift,
                                        hand.caps[:, 6:]), 1))
            placed.append((joints, palm))
        h, w = self.size
        depth, part = raycast_capsules(np.concatenate(caps), self.camera, h, w)
        owner = np.repeat(np.arange(len(caps)), [len(c) for c in caps])
        seen = np.bincount(owner[part[part >= 0]], minlength=len(caps))
        if self.noise:
            img = sensor_effects(np.random.default_rng((self.seed, 7, i)), depth, RenderOptions())
        else:
            img = np.clip(np.rint(depth), 0, 65535).astype(np.uint16)
        return img, [self._truth(k, joints, palm, seen[k]) for k, (joints, palm) in enumerate(placed)]

    def _truth(self, k: int, joints21: np.ndarray, palm: np.ndarray, seen_px: int) -> HandTruth:
        xyz = joints_for_layout(joints21, self.skeleton).astype(np.float64)
        cam = self.camera
        uvd = np.stack((xyz[:, 0] * cam.fx / xyz[:, 2] + cam.cx, xyz[:, 1] * cam.fy / xyz[:, 2] + cam.cy,
                        xyz[:, 2]), -1)
        need = VISIBLE_AREA_MM2 * cam.fx * cam.fy / palm[2] ** 2
        return HandTruth(k, self._hands[k].side, xyz, uvd, palm.astype(np.float64), bool(seen_px >= need))

    @property
    def truth(self) -> list[list[HandTruth]]:
        return [self.render(i)[1] for i in range(self.frames)]

    def __iter__(self) -> Iterator[Frame]:
        for i in range(self.frames):
            yield Frame(self.timestamp(i), self.render(i)[0], self.camera)
