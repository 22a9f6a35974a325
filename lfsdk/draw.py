"""Overlay pictures: a depth frame colourised, with the crop box, the skeleton and the joints on top."""
from __future__ import annotations

import numpy as np

from .skeletons import get_skeleton

__all__ = ["colorize_depth", "draw_hands", "draw_overlay", "skeleton_style", "BOX_COLOR", "FOCUS_MM"]

BOX_COLOR = (255, 255, 255)
FOCUS_MM = 150.0  # depth range either side of the hand centre that gets most of the brightness
JOINT_OUTLINE = (0, 0, 0)
HIDDEN_COLOR = (128, 128, 128)  # a candidate scored below the threshold


def colorize_depth(depth: np.ndarray, focus_mm: float | None = None) -> np.ndarray:
    """(H, W) depth mm → (H, W, 3) uint8, near bright, far dark (matplotlib's 'bone' map); missing pixels
    (≤ 0 or not finite) black. With `focus_mm` (the hand centre's depth) the range focus ± FOCUS_MM gets
    most of the brightness range and everything behind it is dim, so a hand in front of a wall stays
    readable; without it the valid range (2nd–98th percentile) is spread evenly."""
    from matplotlib import colormaps

    d = np.asarray(depth, dtype=np.float32)
    valid = np.isfinite(d) & (d > 0)
    out = np.zeros(d.shape + (3,), np.uint8)
    if not valid.any():
        return out
    lo, hi = np.percentile(d[valid], (2, 98))
    if focus_mm is None or not np.isfinite(focus_mm):
        level = 0.15 + 0.85 * (1.0 - np.clip((d - lo) / max(hi - lo, 1e-3), 0, 1))
    else:
        near, far = focus_mm - FOCUS_MM, focus_mm + FOCUS_MM
        hand = 0.4 + 0.6 * (1.0 - np.clip((d - near) / (far - near), 0, 1))
        behind = 0.1 + 0.2 * (1.0 - np.clip((d - far) / max(hi - far, 1e-3), 0, 1))
        level = np.where(d <= far, hand, behind)
    rgb = (colormaps["bone"](level)[..., :3] * 255).astype(np.uint8)
    out[valid] = rgb[valid]
    return out


def skeleton_style(name: str, m: int):
    """(bones, colours per joint RGB 0–255) for layout `name` with m joints; no bones when unknown."""
    try:
        sk = get_skeleton(name)
    except ValueError:
        sk = None
    if sk is None or sk.num_joints != m:
        return (), [(255, 255, 0)] * m
    return sk.bones, [tuple(int(255 * c) for c in col) for col in sk.colors]


def draw_overlay(depth: np.ndarray, joints_uvd: np.ndarray, box: np.ndarray, found: bool,
                 skeleton: str, center_mm: float | None = None) -> np.ndarray:
    """depth (H, W) mm, joints_uvd (M, 3), box (4,), the hand centre's depth → (H, W, 3) uint8 RGB overlay.

    Bones take the colour of their child joint's finger; line widths scale with the image size. A frame
    with no hand (found False) gets the colourised depth only."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(colorize_depth(depth, center_mm if found else None))
    if not found:
        return np.asarray(img)
    h, w = depth.shape
    lw = max(1, round(min(h, w) / 160))
    r = max(2, round(min(h, w) / 110))
    draw = ImageDraw.Draw(img)
    if np.isfinite(box).all():
        draw.rectangle([float(v) for v in box], outline=BOX_COLOR, width=lw)
    _draw_skeleton(draw, joints_uvd, skeleton, lw, r)
    return np.asarray(img)


def _draw_skeleton(draw, joints_uvd: np.ndarray, skeleton: str, lw: int, r: int) -> None:
    bones, colors = skeleton_style(skeleton, len(joints_uvd))
    uv = joints_uvd[:, :2]
    for child, parent in bones:
        draw.line([tuple(uv[parent]), tuple(uv[child])], fill=colors[child], width=lw + 1)
    for (u, v), col in zip(uv, colors):
        draw.ellipse([u - r, v - r, u + r, v + r], fill=col, outline=JOINT_OUTLINE)


def draw_hands(depth: np.ndarray, joints_uvd: np.ndarray, boxes: np.ndarray, found: np.ndarray,
               score: np.ndarray, left: np.ndarray, skeleton: str, center_mm: np.ndarray) -> np.ndarray:
    """depth (H, W) mm and N hand slots — joints_uvd (N, M, 3), boxes (N, 4), found, score, left, the centres'
    depth (N,) → (H, W, 3) uint8 RGB: every hand found with its box, skeleton and "R 0.97"/"L 0.88" (side,
    score); a candidate below the threshold gets a grey box and its score only."""
    from PIL import Image, ImageDraw

    focus = center_mm[found]
    img = Image.fromarray(colorize_depth(depth, float(focus.min()) if len(focus) else None))
    h, w = depth.shape
    lw, r = max(1, round(min(h, w) / 160)), max(2, round(min(h, w) / 110))
    draw = ImageDraw.Draw(img)
    for n in range(len(found)):
        if not np.isfinite(boxes[n]).all():
            continue
        box = [float(v) for v in boxes[n]]
        label = f"{'L' if left[n] else 'R'} {score[n]:.2f}" if found[n] else f"{score[n]:.2f}"
        draw.rectangle(box, outline=BOX_COLOR if found[n] else HIDDEN_COLOR, width=lw if found[n] else 1)
        draw.text((box[0] + 2, box[1] + 1), label, fill=BOX_COLOR if found[n] else HIDDEN_COLOR)
        if found[n]:
            _draw_skeleton(draw, joints_uvd[n], skeleton, lw, r)
    return np.asarray(img)
