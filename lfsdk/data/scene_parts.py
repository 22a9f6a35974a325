"""Pieces of rendered scenes besides the hand: planes (walls, desks), a torso with head and arms, and depth
sensor artefacts (flying pixels, near specks, holes, saturated and max-range pixels).

Surfaces are depth maps (H, W) in mm with 0 where the surface is not seen; bodies are capsules (P, 7)
(a xyz, b xyz, radius) for lfsdk.data.synthetic.raycast_capsules. Camera frame: x right, y down, z forward.
"""
from __future__ import annotations

import numpy as np

from lfsdk.geometry import Camera

from .synthetic import axis_rotation, pixel_rays

__all__ = ["plane_depth", "wall", "desk", "torso", "flying_pixels", "specks", "holes", "saturate",
           "SATURATED", "MAX_RANGE", "MIN_RANGE", "TOO_NEAR"]

#: the value a saturated pixel reads (uint16 full scale) and the reading of pixels at the sensor's range limit
SATURATED = 65535
MAX_RANGE = 8000
#: surfaces nearer than MIN_RANGE mm read missing; a surface map marks them TOO_NEAR (they still hide what
#: is behind them)
MIN_RANGE = 100.0
TOO_NEAR = -1.0


def plane_depth(normal: np.ndarray, point: np.ndarray, camera: Camera, h: int, w: int,
                zlim: tuple[float, float] = (80.0, 6000.0)) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel's ray meets the plane through `point` (3,) with `normal` (3,): (depth (H, W) mm,
    0 outside zlim or behind the camera; hits (H, W, 3) camera-frame points, NaN where no hit)."""
    rd = pixel_rays(camera, h, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (normal @ point) / (rd @ normal)
    hit = rd * t[:, None]
    ok = np.isfinite(t) & (t > 0) & (hit[:, 2] > zlim[0]) & (hit[:, 2] < zlim[1])
    depth = np.where(ok, hit[:, 2], 0.0).reshape(h, w)
    return depth, np.where(ok[:, None], hit, np.nan).reshape(h, w, 3)


def _tilted(rng: np.random.Generator, base: np.ndarray, max_deg: float) -> np.ndarray:
    """`base` (3,) unit vector rotated by up to max_deg about a random axis."""
    axis = rng.normal(size=3)
    return axis_rotation(axis / np.linalg.norm(axis), np.radians(rng.uniform(0, max_deg))) @ base


def wall(rng: np.random.Generator, z: float, camera: Camera, h: int, w: int, tilt_deg: float = 25.0) -> np.ndarray:
    """A plane crossing the optical axis at depth z mm, tilted up to tilt_deg: (H, W) depth mm, 0 = not seen."""
    normal = _tilted(rng, np.array([0.0, 0.0, -1.0]), tilt_deg)
    return plane_depth(normal, np.array([0.0, 0.0, z]), camera, h, w)[0]


def desk(rng: np.random.Generator, edge: np.ndarray, camera: Camera, h: int, w: int) -> np.ndarray:
    """A desk top seen from above whose far edge passes through `edge` (3,) camera mm: the half-plane on the
    camera's side of the edge, so every pixel of it below the edge in the image is nearer than the edge.
    The top is tilted 30–75° from facing the camera; the edge is turned up to ±25° in the image.
    Returns (H, W) depth mm, 0 = not seen."""
    for tilt in (*rng.uniform(30, 75, size=4), 80.0):
        a = np.radians(tilt)
        normal = np.array([0.0, -np.sin(a), -np.cos(a)])  # up and towards the camera
        if normal @ edge < -20.0:  # the camera is above the desk top
            break
    away = np.array([0.0, 0.0, 1.0]) - normal * normal[2]  # in-plane direction away from the camera
    away = axis_rotation(normal, np.radians(rng.uniform(-25, 25))) @ (away / np.linalg.norm(away))
    depth, hit = plane_depth(normal, edge, camera, h, w, zlim=(0.0, 6000.0))
    with np.errstate(invalid="ignore"):
        near_side = (hit - edge) @ away < 0
    # nearer than the sensor's range: still hides what is behind, but reads missing (TOO_NEAR)
    return np.where(near_side, np.where(depth < MIN_RANGE, TOO_NEAR, depth), 0.0)


def torso(rng: np.random.Generator, shoulder: np.ndarray, side: float, scale: float = 1.0,
          arm_down: bool = True) -> np.ndarray:
    """Capsules (P, 7) of a torso, neck and head whose `side` (+1: the torso lies to the right of it in the
    image, −1: left) shoulder joint is `shoulder` (3,) mm; the other arm hangs down (arm_down) and, when
    arm_down, so does the given shoulder's (for a torso without a raised hand)."""
    half = rng.uniform(150, 190) * scale  # half the shoulder width
    centre = shoulder + np.array([side * half, 0.0, 0.0])
    other = shoulder + np.array([2 * side * half, 0.0, 0.0])
    r = 105.0 * scale
    zc = shoulder[2] + 0.6 * r  # the chest's front surface is about the shoulder joints' depth
    caps = [(centre[0] + dx, centre[1] + 40, zc, centre[0] + 0.8 * dx, centre[1] + 600 * scale, zc, r)
            for dx in (-0.6 * half, 0.0, 0.6 * half)]
    caps.append((*shoulder, *other, 55.0 * scale))  # shoulder line
    caps.append((*(centre - (0, 40, 0)), *(centre - (0, 130 * scale, -20)), 45.0 * scale))  # neck
    head = centre - np.array([0.0, 230.0 * scale, -30.0]) + rng.normal(0, 20, 3)
    caps.append((*head, *(head - (0, 40, 0)), 95.0 * scale))
    hang = np.array([rng.normal(0, 40), 300.0 * scale, rng.uniform(-30, 60)])  # an upper arm hanging down
    caps.append((*other, *(other + hang), 42.0 * scale))
    if arm_down:
        caps.append((*shoulder, *(shoulder + hang * (-1, 1, 1)), 42.0 * scale))
    return np.asarray(caps, dtype=float)


# --------------------------------------------------------------------------------------- sensor artefacts
def _edges(depth: np.ndarray, jump: float) -> np.ndarray:
    """(H, W) bool: seen pixels with a 4-neighbour more than `jump` mm away or unseen."""
    pad = np.pad(depth, 1, mode="edge")
    out = np.zeros(depth.shape, bool)
    for nb in (pad[:-2, 1:-1], pad[2:, 1:-1], pad[1:-1, :-2], pad[1:-1, 2:]):
        out |= np.abs(nb - depth) > jump
    return out & (depth > 0)


def flying_pixels(rng: np.random.Generator, img: np.ndarray, clean: np.ndarray, share: float) -> np.ndarray:
    """Flying pixels: `share` of the depth-edge pixels of the clean z-buffer read a depth between the
    nearest and farthest of their 3×3 neighbourhood (never nearer than the nearer surface). img uint16."""
    h, w = clean.shape
    pad = np.pad(clean, 1)
    window = np.stack([pad[i:i + h, j:j + w] for i in range(3) for j in range(3)])  # (9, H, W), 0 = unseen
    lo, hi = np.where(window > 0, window, np.inf).min(0), window.max(0)
    pick = _edges(clean, 40.0) & (rng.random(clean.shape) < share) & (hi > lo)
    out = img.copy()
    out[pick] = np.clip(np.rint(lo[pick] + rng.uniform(0.1, 0.9, int(pick.sum())) * (hi - lo)[pick]), 1, 65535)
    return out


def specks(rng: np.random.Generator, img: np.ndarray, near: float, around: np.ndarray, count: int) -> np.ndarray:
    """`count` specks of 1×1 to 3×3 pixels 50–400 mm nearer than `near` mm, half of them within 40 px of
    `around` (u, v), the rest anywhere. img uint16 (H, W) → a copy with the specks."""
    out = img.copy()
    h, w = img.shape
    for k in range(count):
        s = int(rng.integers(1, 4))
        if k % 2 == 0:
            u, v = around + rng.uniform(-40, 40, 2)
        else:
            u, v = rng.uniform(0, w), rng.uniform(0, h)
        u0, v0 = int(np.clip(u, 0, w - s)), int(np.clip(v, 0, h - s))
        z = max(80.0, near - rng.uniform(50, 400))
        out[v0:v0 + s, u0:u0 + s] = np.rint(z + rng.normal(0, 2, (s, s))).astype(np.uint16)
    return out


def _disc(h: int, w: int, u: float, v: float, ru: float, rv: float) -> np.ndarray:
    vv, uu = np.ogrid[0:h, 0:w]
    return ((uu - u) / ru) ** 2 + ((vv - v) / rv) ** 2 <= 1.0


def holes(rng: np.random.Generator, img: np.ndarray, on: np.ndarray, count: int) -> np.ndarray:
    """`count` elliptic holes (radius 2–8 px, read 0), half centred on a pixel of mask `on` (H, W)."""
    out = img.copy()
    h, w = img.shape
    ys, xs = np.nonzero(on)
    for k in range(count):
        if k % 2 == 0 and len(xs):
            i = rng.integers(len(xs))
            u, v = xs[i], ys[i]
        else:
            u, v = rng.uniform(0, w), rng.uniform(0, h)
        out[_disc(h, w, u, v, *rng.uniform(2, 8, 2))] = 0
    return out


def saturate(rng: np.random.Generator, img: np.ndarray, count: int) -> np.ndarray:
    """`count` patches (radius 1–6 px) reading SATURATED or MAX_RANGE (e.g. specular glints, sky)."""
    out = img.copy()
    h, w = img.shape
    for _ in range(count):
        value = SATURATED if rng.random() < 0.5 else MAX_RANGE
        out[_disc(h, w, rng.uniform(0, w), rng.uniform(0, h), *rng.uniform(1, 6, 2))] = value
    return out
