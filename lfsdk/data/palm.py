"""Palm-centred training crops with a realistic centre error.

At inference the crop centre comes from a localiser whose error is the model's problem: the depth centre
of mass lands a median ~42 mm from the palm (pulled towards the forearm and the camera); a second pass
re-cropped around the network's own palm lands a few mm from it. A model trained only on centre-of-mass
crops learns that bias. Here every frame is cut twice:

- at the depth centre of mass (exactly as the first inference pass cuts it), and
- at the true palm centre (the mean of the wrist and the four finger MCPs), to which each training step adds
  a fresh Gaussian centre error of `jitter_mm` per axis (`jitter_palm_batch`), the second pass's error.

A sampler mixes the two (`com_fraction` of the samples at the centre of mass), so one model serves both
passes. The jitter moves the crop centre by δ = (δx, δy, δz) mm along the crop's axes (the image plane at
the centre's depth, and depth; the measured second-pass error is about 4.5 mm per axis); for errors this small (a few mm, i.e. a
few pixels) re-cutting is replaced by moving the crop's content: in normalised cube coordinates the hand
and its joints move by −2δ/cube, in-plane as a pixel shift (the augmentation's translation) and in depth as
an offset of every hand pixel's normalised depth.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

from lfsdk.geometry import Camera, uvd_to_cube
from lfsdk.kernels import crop_resize_normalize, hand_center
from lfsdk.preprocess import PreprocessConfig
from lfsdk.skeletons import HAND21_NAMES, get_skeleton

from .dataset import CropSet

__all__ = ["palm_weights", "palm_centers", "PalmCropDataset", "mixed_sampler", "sample_jitter",
           "jitter_palm_batch", "jitter_shift_px"]

#: The palm centre in lfsdk's 21-joint hand: the mean of the wrist and the four finger MCPs.
_PALM21 = {"wrist": 0.2, "index_mcp": 0.2, "middle_mcp": 0.2, "ring_mcp": 0.2, "little_mcp": 0.2}


def palm_weights(layout: str) -> np.ndarray:
    """(M,) weights w with Σ_m w_m · joint_m = the palm centre, for a joint layout ('nyu', 'icvl', 'msra').

    Solved from the layout's definition in terms of the 21-joint hand; raises ValueError when the layout's
    joints cannot express the palm centre exactly."""
    rows = get_skeleton(layout).weights  # (M, 21)
    target = np.array([_PALM21.get(n, 0.0) for n in HAND21_NAMES])
    w, *_ = np.linalg.lstsq(rows.T, target, rcond=None)
    if not np.allclose(rows.T @ w, target, atol=1e-6):
        raise ValueError(f"layout {layout!r} has no joints that define the palm centre (wrist + 4 MCPs)")
    w[np.abs(w) < 1e-9] = 0.0
    return w


def palm_centers(joints_uvd: torch.Tensor, weights: np.ndarray) -> torch.Tensor:
    """(N, M, 3) joints uvd, (M,) palm_weights → (N, 3) palm centre uvd.

    Averaging in uvd rather than xyz differs by well under a millimetre at hand scale (perspective is
    near-affine over a palm), and keeps the centre in the same space as the crop."""
    w = torch.as_tensor(weights, dtype=joints_uvd.dtype)
    return torch.einsum("m,nmc->nc", w, joints_uvd)


class PalmCropDataset(CropSet):
    """Each frame cut at its depth centre of mass (items [0, N)) and at its true palm (items [N, 2N)).

    Items: (crop (1, S, S) float32, joints (M, 3) normalised, meta {center_uvd, palm: bool, index}).
    Frames where the centre of mass is not found (no valid depth) are dropped from both halves. Crops are
    kept as float16 (2 × N × S² × 2 bytes).
    """

    def __init__(self, depth, joints_uvd, camera: Camera, preprocess: PreprocessConfig, layout: str,
                 chunk: int = 512):
        joints = torch.as_tensor(np.asarray(joints_uvd), dtype=torch.float32)
        if len(depth.shape) != 3 or joints.dim() != 3 or len(depth) != len(joints):
            raise ValueError(f"need depth (N, H, W) and joints_uvd (N, M, 3) with the same N, got "
                             f"{tuple(depth.shape)} and {tuple(joints.shape)}")
        self.camera, self.preprocess = camera, preprocess
        pw = palm_weights(layout)
        parts: dict[str, list] = {k: [] for k in ("com", "palm", "c_com", "c_palm", "j_com", "j_palm", "kept")}
        for s in range(0, len(depth), chunk):
            d = torch.as_tensor(np.asarray(depth[s:s + chunk]))
            j = joints[s:s + chunk]
            c = hand_center(d, camera, band=preprocess.band, refine=preprocess.refine, cube=preprocess.cube)
            ok = c.found
            palm = palm_centers(j[ok], pw)
            for key, centre in (("com", c.uvd[ok]), ("palm", palm)):
                x = crop_resize_normalize(d[ok], centre, preprocess.cube, camera, preprocess.size, preprocess.mode)
                parts[key].append(x.to(torch.float16))
                parts["c_" + key].append(centre)
                parts["j_" + key].append(uvd_to_cube(j[ok], centre, preprocess.cube, camera))
            parts["kept"].append(torch.nonzero(ok)[:, 0] + s)
        if not any(len(k) for k in parts["kept"]):
            raise ValueError("no frame has a hand centre (all depth missing or out of range)")
        cat = {k: torch.cat(v) for k, v in parts.items()}
        self.crops = torch.cat((cat["com"], cat["palm"]))
        self.joints = torch.cat((cat["j_com"], cat["j_palm"])).float()
        self.centers_uvd = torch.cat((cat["c_com"], cat["c_palm"]))
        self.kept = cat["kept"]
        self.frames = len(self.kept)  # items [0, frames) are centre-of-mass crops, the rest palm crops
        self.index = torch.cat((self.kept, self.kept))

    def add_palm_crops(self, crops: torch.Tensor, joints: torch.Tensor, centers_uvd: torch.Tensor) -> None:
        """Append palm-centred crops cut elsewhere (e.g. hands in rendered scenes): crops (K, 1, S, S) in
        [-1, 1], joints (K, M, 3) normalised, centres (K, 3). Their item index is -1."""
        if crops.shape[1:] != self.crops.shape[1:] or joints.shape[1:] != self.joints.shape[1:] \
                or not len(crops) == len(joints) == len(centers_uvd):
            raise ValueError(f"need crops (K, {', '.join(map(str, self.crops.shape[1:]))}) and joints "
                             f"(K, {', '.join(map(str, self.joints.shape[1:]))}), got {tuple(crops.shape)}, "
                             f"{tuple(joints.shape)}")
        self.crops = torch.cat((self.crops, crops.to(torch.float16)))
        self.joints = torch.cat((self.joints, joints.float()))
        self.centers_uvd = torch.cat((self.centers_uvd, centers_uvd.float()))
        self.index = torch.cat((self.index, torch.full((len(crops),), -1, dtype=self.index.dtype)))

    def __getitem__(self, i: int):
        meta = {"center_uvd": self.centers_uvd[i], "palm": i >= self.frames, "index": self.index[i]}
        return self.crops[i].float(), self.joints[i], meta


def mixed_sampler(dataset: PalmCropDataset, com_fraction: float, generator: torch.Generator) -> WeightedRandomSampler:
    """Draws `frames` items per epoch, a `com_fraction` share of them centre-of-mass crops, the rest palm crops
    (each kind uniformly)."""
    if not 0.0 <= com_fraction <= 1.0:
        raise ValueError(f"com_fraction must be in [0, 1], got {com_fraction}")
    n, k = dataset.frames, len(dataset) - dataset.frames
    w = torch.cat((torch.full((n,), com_fraction / n), torch.full((k,), (1 - com_fraction) / k)))
    return WeightedRandomSampler(w, n, replacement=True, generator=generator)


def sample_jitter(batch: int, jitter_mm: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 3) centre errors in mm, each axis N(0, jitter_mm²)."""
    return torch.randn(batch, 3, generator=generator) * jitter_mm


def jitter_palm_batch(crops: torch.Tensor, joints: torch.Tensor, delta_mm: torch.Tensor,
                      cube: tuple[float, float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth half of a centre error δ (B, 3) mm: crops (B, 1, S, S) in [-1, 1] (background 1), joints
    (B, M, 3) normalised → both as if cut δz mm deeper. Hand pixels' normalised depth and the joints' z move
    by −2δz/cube_z; a pixel moved out of [-1, 1] becomes background, as the crop treats depth outside
    the cube. The in-plane half is a shift: pass `jitter_shift_px`'s
    pixels to the augmentation's translation."""
    dz = (-2.0 * delta_mm[:, 2] / cube[2]).to(crops)
    moved = crops + dz[:, None, None, None]
    moved = torch.where((crops < 1.0) & (moved >= -1.0) & (moved < 1.0), moved, torch.ones_like(crops))
    out = joints.clone()
    out[..., 2] = joints[..., 2] + dz[:, None]
    return moved, out


def jitter_shift_px(delta_mm: torch.Tensor, cube: tuple[float, float, float], size: int) -> torch.Tensor:
    """(B, 3) centre error mm → (B, 2) pixel shift of the crop content: −δ_xy · S / cube_xy."""
    return -delta_mm[:, :2] * size / torch.tensor(cube[:2], dtype=delta_mm.dtype)
