"""Training/evaluation datasets: depth frames → (crop, joints in the normalised cube, meta).

Crops are made exactly as inference makes them — hand centre from the depth itself (lfsdk.kernels
hand_center, the near-band centre of mass; never the ground truth), then lfsdk.kernels crop — so a model
sees the same centring errors in training as in use. The preprocessing settings travel with the model
(lfsdk.preprocess.PreprocessConfig, stored in the checkpoint's config.extra["preprocess"]). The synthetic
set registers itself as "synthetic" (lfsdk.data.registry).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from lfsdk.geometry import Camera, uvd_to_cube
from lfsdk.kernels import crop_resize_normalize, hand_center
from lfsdk.preprocess import PreprocessConfig

from .registry import DATASETS, make_dataset, register_dataset
from .render_torch import CHUNK, render_device as _render_device, render_frames_torch
from .synthetic import RenderOptions, render_hand

__all__ = [
    "PreprocessConfig", "CropSet", "HandCropDataset", "DATASETS", "register_dataset", "make_dataset",
    "synthetic_frames", "synthetic_dataset", "SYNTHETIC_SEEDS",
]


class CropSet(Dataset):
    """Crops (N, 1, S, S) and their joints in the normalised cube (N, M, 3), as training reads them."""

    crops: torch.Tensor
    joints: torch.Tensor

    def __len__(self) -> int:
        return len(self.crops)

    @property
    def num_joints(self) -> int:
        return self.joints.shape[1]


class HandCropDataset(CropSet):
    """Frames with ground-truth joints, preprocessed once into crops (kept as float16) and normalised joints.

    Items: (crop (1, S, S) float32, joints (M, 3) float32 normalised cube, meta dict with center_uvd (3,),
    cube (3,) mm, camera (4,) fx fy cx cy, index). Frames where no hand centre is found are dropped
    (`kept` holds the indices of the frames kept).
    """

    def __init__(self, depth: np.ndarray | torch.Tensor, joints_uvd: np.ndarray | torch.Tensor, camera: Camera,
                 preprocess: PreprocessConfig = PreprocessConfig(), chunk: int = 512):
        if not hasattr(depth, "shape") or isinstance(depth, np.ndarray):  # a lazy (N, H, W) stack stays lazy
            depth = torch.as_tensor(np.asarray(depth) if not isinstance(depth, torch.Tensor) else depth)
        joints = torch.as_tensor(joints_uvd, dtype=torch.float32)
        if len(depth.shape) != 3 or joints.dim() != 3 or joints.shape[-1] != 3 or len(depth) != len(joints):
            raise ValueError(f"need depth (N, H, W) and joints_uvd (N, M, 3) with the same N, got "
                             f"{tuple(depth.shape)} and {tuple(joints.shape)}")
        self.camera, self.preprocess = camera, preprocess
        crops, norm, centers, kept = [], [], [], []
        for s in range(0, len(depth), chunk):
            d = torch.as_tensor(depth[s:s + chunk])  # lazy stacks (protocol.DepthStack) read only these frames
            c = hand_center(d, camera, band=preprocess.band, refine=preprocess.refine, cube=preprocess.cube)
            ok = c.found
            if not ok.any():
                continue
            x = crop_resize_normalize(d[ok], c.uvd[ok], preprocess.cube, camera, preprocess.size, preprocess.mode)
            crops.append(x.to(torch.float16))
            norm.append(uvd_to_cube(joints[s:s + chunk][ok], c.uvd[ok], preprocess.cube, camera))
            centers.append(c.uvd[ok])
            kept.append(torch.nonzero(ok)[:, 0] + s)
        if not crops:
            raise ValueError("no frame has a hand centre (all depth missing or out of range)")
        self.crops = torch.cat(crops)
        self.joints = torch.cat(norm).float()
        self.centers_uvd = torch.cat(centers)
        self.kept = torch.cat(kept)
        self.joints_uvd = joints[self.kept]
        self._cam = camera.tensor()
        self._cube = torch.tensor(preprocess.cube)

    def __getitem__(self, i: int):
        meta = {"center_uvd": self.centers_uvd[i], "cube": self._cube, "camera": self._cam, "index": self.kept[i]}
        return self.crops[i].float(), self.joints[i], meta


# ------------------------------------------------------------------------------------------ synthetic data
#: Fixed seeds: the held-out set never shares a seed with the training set.
SYNTHETIC_SEEDS = {"train": 1, "val": 2, "test": 2020}


def _cache_key(**kw) -> str:
    return hashlib.sha256(json.dumps(kw, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _render_range(args: tuple) -> dict:
    """Worker: frames [lo, hi) of one synthetic set (picklable args for multiprocessing)."""
    lo, hi, seed, camera, layout, size, opts, clutter_p = args
    depth, xyz, uvd = [], [], []
    for i in range(lo, hi):
        rng = np.random.default_rng((seed, i))
        f = render_hand(rng, camera, layout, size, opts, clutter=bool(rng.random() < clutter_p))
        depth.append(f.depth), xyz.append(f.joints_xyz), uvd.append(f.joints_uvd)
    return {"depth": np.stack(depth), "joints_xyz": np.stack(xyz), "joints_uvd": np.stack(uvd)}


def synthetic_frames(n: int, seed: int, camera: Camera | str = "icvl", layout: str = "nyu",
                     size: tuple[int, int] = (240, 320), clutter: float = 0.3,
                     options: RenderOptions = RenderOptions(), cache_dir: str | os.PathLike | None = None,
                     workers: int = 1, progress: bool = False, render_device: str | None = None) -> dict:
    """n rendered frames as arrays {depth (n,H,W) uint16, joints_xyz, joints_uvd (n,M,3) float32}.

    `clutter` is the fraction of frames with background clutter. With cache_dir, the set is written once
    to an .npz named by its parameters and read back on later calls (training epochs never re-render).
    render_device None renders with NumPy in `workers` processes; "cpu" or "cuda" with the torch renderer
    (lfsdk.data.render_torch: the same hands and joints, its own noise draws, so it has its own cache file).
    """
    camera = Camera.parse(camera)
    dev = None if render_device is None else _render_device(render_device)
    renderer = {} if dev is None else {"renderer": f"torch-{dev.type}", "chunk": CHUNK}
    key = _cache_key(n=n, seed=seed, camera=camera, layout=layout, size=tuple(size), clutter=clutter,
                     options=options, v=1, **renderer)
    path = Path(cache_dir) / f"synthetic-{layout}-{n}-s{seed}-{key}.npz" if cache_dir else None
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in ("depth", "joints_xyz", "joints_uvd")}
    if dev is not None:
        out = render_frames_torch(n, seed, camera, layout, tuple(size), options, clutter, dev, progress=progress)
        if path is not None:
            save_npz_atomic(path, out)
        return out
    bounds = np.linspace(0, n, max(1, min(workers, n)) * 8 + 1).astype(int)
    jobs = [(lo, hi, seed, camera, layout, tuple(size), options, clutter) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("spawn").Pool(workers) as pool:
            parts = pool.imap(_render_range, jobs)
            parts = list(_progress(parts, len(jobs), progress))
    else:
        parts = list(_progress(map(_render_range, jobs), len(jobs), progress))
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if path is not None:
        save_npz_atomic(path, out)
    return out


def save_npz_atomic(path: Path, arrays: dict) -> None:
    """Write a render cache: to a temporary name, then renamed, so concurrent runs never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _progress(it, total: int, on: bool):
    if not on:
        return it
    from tqdm import tqdm
    return tqdm(it, total=total, desc="render", unit="chunk")


@register_dataset("synthetic")
def synthetic_dataset(split: str, root: str | os.PathLike | None, preprocess: PreprocessConfig,
                      n: int | None = None, camera: str = "icvl", layout: str = "nyu", clutter: float = 0.3,
                      workers: int = 1, progress: bool = False, render_device: str | None = None) -> HandCropDataset:
    """Rendered frames; the split picks a fixed seed (SYNTHETIC_SEEDS), `root` is the cache folder."""
    if split not in SYNTHETIC_SEEDS:
        raise ValueError(f"unknown split {split!r}: expected one of {sorted(SYNTHETIC_SEEDS)}")
    n = n or {"train": 16000, "val": 500, "test": 1000}[split]
    cam = Camera.parse(camera)
    frames = synthetic_frames(n, SYNTHETIC_SEEDS[split], cam, layout, clutter=clutter, cache_dir=root,
                              workers=workers, progress=progress, render_device=render_device)
    return HandCropDataset(frames["depth"], frames["joints_uvd"], cam, preprocess)

