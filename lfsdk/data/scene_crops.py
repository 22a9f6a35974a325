"""Palm-centred training crops of the hands in rendered scenes (lfsdk.data.scenes): an arm up to a torso,
hands at the border, sensor artefacts, desk edges, a second hand — what the localiser sends the network.

Every hand of a frame is cut at its true palm (the training jitter is added per step, as for single-hand
frames). The network is a right-hand model, so a left hand's crop is mirrored left-right and its joints' x
negated (normalised x is measured from the crop centre, so the mirror maps x to −x exactly), as inference
mirrors a left hand's crop. Rendered sets are cached in `cache_dir` as .npz (no pickle).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from lfsdk.geometry import Camera, uvd_to_cube
from lfsdk.kernels import crop_resize_normalize
from lfsdk.preprocess import PreprocessConfig

from .dataset import save_npz_atomic
from .palm import palm_centers, palm_weights
from .scenes import HAND_CLASSES, SCENE_SEEDS, render_scenes

__all__ = ["TRAIN_SCENE_CLASSES", "scene_hand_frames", "scene_palm_crops"]

#: Scene classes added to training: every hand class but the lone hand the single-hand set already covers.
TRAIN_SCENE_CLASSES = tuple(c for c in HAND_CLASSES if c != "lone_hand")


def scene_hand_frames(n: int, camera: Camera, layout: str, seed: int = SCENE_SEEDS["train"],
                      cache_dir: str | os.PathLike | None = None) -> dict:
    """n scenes cycling through TRAIN_SCENE_CLASSES: {depth (n, H, W) uint16, joints_uvd (n, MAX_HANDS, M, 3)
    float32 (NaN: no hand), left (n, MAX_HANDS) bool}."""
    path = Path(cache_dir) / f"scenes-{layout}-{n}-s{seed}-{camera.fx:g}-{camera.cx:g}.npz" if cache_dir else None
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in ("depth", "joints_uvd", "left")}
    b = render_scenes(n, seed, TRAIN_SCENE_CLASSES, camera, layout)
    out = {"depth": b.depth, "joints_uvd": b.joints_uvd, "left": b.handedness == "left"}
    if path is not None:
        save_npz_atomic(path, out)
    return out


def scene_palm_crops(frames: dict, camera: Camera, preprocess: PreprocessConfig,
                     layout: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """scene_hand_frames' dict → (crops (K, 1, S, S) float16, joints (K, M, 3) normalised, centres (K, 3) uvd)
    for the K hands in it, left hands mirrored into right hands."""
    joints = torch.as_tensor(frames["joints_uvd"], dtype=torch.float32)  # (N, H, M, 3)
    present = ~torch.isnan(joints[..., 0, 0])  # (N, H)
    frame_of, hand_of = torch.nonzero(present, as_tuple=True)
    if not len(frame_of):
        raise ValueError("the scenes hold no hand")
    j = joints[frame_of, hand_of]
    centres = palm_centers(j, palm_weights(layout))
    depth = torch.as_tensor(frames["depth"])[frame_of]
    crops = crop_resize_normalize(depth, centres, preprocess.cube, camera, preprocess.size, preprocess.mode)
    norm = uvd_to_cube(j, centres, preprocess.cube, camera)
    left = torch.as_tensor(frames["left"])[frame_of, hand_of]
    crops = torch.where(left[:, None, None, None], crops.flip(-1), crops)
    norm[..., 0] = torch.where(left[:, None], -norm[..., 0], norm[..., 0])
    return crops.to(torch.float16), norm, centres
