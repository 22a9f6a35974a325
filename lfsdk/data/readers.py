"""What the three official readers (nyu.py, icvl.py, msra.py) share: labels indexed eagerly (small), depth
loaded lazily one frame per __getitem__, every split handed back as `LabelledFrames`, and cut into training
crops by `crop_dataset`. The datasets' constants live in protocol.py."""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from ..geometry import Camera, uvd_to_xyz, xyz_to_uvd
from .dataset import HandCropDataset
from .protocol import DatasetProtocol

__all__ = [
    "DatasetLayoutError", "Frame", "LabelledFrames", "require_file", "keep_existing", "to_numpy_uvd",
    "to_numpy_xyz", "VAL_FRAMES", "evenly_spaced", "reader_split", "DepthStack", "crop_dataset",
]


class DatasetLayoutError(FileNotFoundError, ValueError):
    """A dataset root that does not look like the dataset: the message names the file expected where.
    Also a ValueError, so the CLIs' bad-input handlers (lfsdk-train, lfsdk-eval) print it as one line."""


class Frame(NamedTuple):
    """One labelled frame. NamedTuple so torch's default_collate batches it (arrays → tensors)."""

    depth: np.ndarray  # (H, W) float32 mm, 0 = missing
    joints_xyz: np.ndarray  # (M, 3) float32 mm, y down, z > 0
    joints_uvd: np.ndarray  # (M, 3) float32 (u px, v px, d mm)
    name: str  # path of the depth file relative to the dataset root


class LabelledFrames(Dataset):
    """A split of an official dataset: labels in memory, depth read from disk on access.

    paths: N depth files; joints_xyz / joints_uvd: (N, M, 3) float32 in lfsdk.geometry's convention;
    load_depth(path) → (H, W) float32 mm. `protocol` carries camera, cube and centre rule.
    """

    def __init__(self, protocol: DatasetProtocol, split: str, root: Path, paths: Sequence[Path],
                 joints_xyz: np.ndarray, joints_uvd: np.ndarray, load_depth: Callable[[Path], np.ndarray]):
        n = len(paths)
        if joints_xyz.shape != (n, protocol.num_joints, 3) or joints_uvd.shape != joints_xyz.shape:
            raise ValueError(f"{protocol.name} {split}: labels {joints_xyz.shape}/{joints_uvd.shape} do not match "
                             f"{n} frames × {protocol.num_joints} joints × 3")
        self.protocol, self.split, self.root = protocol, split, Path(root)
        self.paths = list(paths)
        self.joints_xyz = np.ascontiguousarray(joints_xyz, dtype=np.float32)
        self.joints_uvd = np.ascontiguousarray(joints_uvd, dtype=np.float32)
        self._load_depth = load_depth

    camera = property(lambda self: self.protocol.camera)
    cube = property(lambda self: self.protocol.cube)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Frame:
        if not -len(self) <= i < len(self):
            raise IndexError(f"frame {i} out of range for {len(self)} frames")
        path = self.paths[i]
        return Frame(self._load_depth(path), self.joints_xyz[i], self.joints_uvd[i],
                     path.relative_to(self.root).as_posix())

    def subset(self, indices: Sequence[int] | np.ndarray) -> "LabelledFrames":
        """The frames at `indices`, in that order (e.g. a few frames for a smoke run)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return LabelledFrames(self.protocol, self.split, self.root, [self.paths[i] for i in idx],
                              self.joints_xyz[idx], self.joints_uvd[idx], self._load_depth)

    def __repr__(self) -> str:
        return f"LabelledFrames({self.protocol.name}, {self.split!r}, {len(self)} frames, root={str(self.root)!r})"


def require_file(root: Path, rel: str, dataset: str, what: str) -> Path:
    """root/rel if it is a file, else a DatasetLayoutError saying which file was expected where — and, when
    the file sits one folder further down (an archive unpacked into its own folder), which root to pass."""
    path = root / rel
    if path.is_file():
        return path
    hint = ""
    if root.is_dir():
        nested = sorted(p for p in root.glob(f"*/{rel}") if p.is_file())
        if nested:
            hint = f"; found {nested[0]} — pass root={nested[0].parents[len(Path(rel).parts) - 1]}"
    raise DatasetLayoutError(f"{path}: missing — {dataset} expects {what} at <root>/{rel} (root={root}){hint}")


def keep_existing(paths: list[Path], dataset: str, missing: str, progress: bool) -> np.ndarray:
    """Indices of `paths` that exist (one directory listing per folder, with a progress bar).

    missing: 'error' raises on the first absent file; 'skip' drops absent frames with a warning.
    """
    if missing not in ("error", "skip"):
        raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
    listing: dict[Path, set[str]] = {}
    keep = []
    for i, p in enumerate(tqdm(paths, desc=f"indexing {dataset}", unit="frame", disable=not progress,
                               leave=False)):
        names = listing.get(p.parent)
        if names is None:
            names = listing[p.parent] = set(os.listdir(p.parent)) if p.parent.is_dir() else set()
        if p.name in names:
            keep.append(i)
        elif missing == "error":
            raise DatasetLayoutError(f"{p}: missing — {dataset}'s labels list this frame; pass missing='skip' "
                                     f"to drop frames without a depth file")
    if len(keep) < len(paths):
        warnings.warn(f"{dataset}: {len(paths) - len(keep)} of {len(paths)} labelled frames have no depth file "
                      f"and were skipped", stacklevel=3)
    return np.asarray(keep, dtype=np.int64)


def to_numpy_uvd(xyz: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) xyz mm → (..., 3) uvd, through lfsdk.geometry (float64 for exactness, returned float32)."""
    return xyz_to_uvd(torch.from_numpy(np.asarray(xyz, np.float64)), camera).numpy().astype(np.float32)


def to_numpy_xyz(uvd: np.ndarray, camera: Camera) -> np.ndarray:
    """(..., 3) uvd → (..., 3) xyz mm, through lfsdk.geometry (float64 for exactness, returned float32)."""
    return uvd_to_xyz(torch.from_numpy(np.asarray(uvd, np.float64)), camera).numpy().astype(np.float32)


# ------------------------------------------------------------------------- registry hook for lfsdk-train/eval
#: Frames in the 'val' split: lfsdk-train's held-out monitor. The papers give no validation split; like DPP
#: (main_nyu_posereg_embedding.py validates on test_1) we take evenly spaced frames of the test split. So
#: `best/` is selected on test frames: report the protocol's numbers from `last/` (fixed epochs, as the paper).
VAL_FRAMES = 500


def evenly_spaced(n_total: int, n: int | None) -> np.ndarray:
    """Indices of `n` frames spread evenly over `n_total` (all when n is None or ≥ n_total)."""
    if n is None or n >= n_total:
        return np.arange(n_total)
    if n < 1:
        raise ValueError(f"need at least one frame, got n={n}")
    return np.unique(np.linspace(0, n_total - 1, n).round().astype(np.int64))


def reader_split(split: str) -> str:
    """The reader split behind a training split: 'val' reads the test split (see VAL_FRAMES)."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}: expected 'train', 'val' or 'test'")
    return "test" if split == "val" else split


class DepthStack:
    """A lazy (N, H, W) float32 view of a LabelledFrames' depth: `shape`, `len`, and slices that read only
    the frames they cover, so HandCropDataset crops a real training set `chunk` frames at a time (NYU's
    train split is 72757 × 480 × 640 frames: 89 GB as float32)."""

    def __init__(self, frames: LabelledFrames, progress: bool = False):
        w, h = frames.protocol.image_size
        self.frames, self.shape = frames, (len(frames), h, w)
        self._bar = tqdm(total=len(frames), desc=f"cropping {frames.protocol.name} {frames.split}", unit="frame",
                         disable=not progress, leave=False)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError(f"DepthStack supports slices, got {key!r}")
        idx = range(*key.indices(len(self)))
        out = np.zeros((len(idx),) + self.shape[1:], np.float32)
        for k, i in enumerate(idx):
            d = self.frames[i].depth
            if d.shape != self.shape[1:]:
                raise ValueError(f"{self.frames.paths[i]}: depth is {d.shape[1]}×{d.shape[0]}, expected "
                                 f"{self.shape[2]}×{self.shape[1]} for {self.frames.protocol.name}")
            out[k] = d
        self._bar.update(len(idx))
        return out


def crop_dataset(frames: LabelledFrames, preprocess, split: str, n: int | None = None, progress: bool = True):
    """LabelledFrames → lfsdk.data.dataset.HandCropDataset (the crops lfsdk-train and lfsdk-eval use),
    reading depth a chunk at a time.

    n: keep n evenly spaced frames (a smoke run); 'val' keeps at most VAL_FRAMES. A preprocess cube other
    than the protocol's is allowed (an experiment) but warned about: it is not the paper's protocol.
    """
    p = frames.protocol
    if tuple(preprocess.cube) != p.cube:
        warnings.warn(f"{p.name}: cropping with a {tuple(preprocess.cube)} mm cube; the protocol's is {p.cube} mm "
                      f"(lfsdk-train --cube {p.cube[0]:g})", stacklevel=3)
    if split == "val":
        n = min(n or VAL_FRAMES, VAL_FRAMES)
    frames = frames.subset(evenly_spaced(len(frames), n))
    return HandCropDataset(DepthStack(frames, progress), frames.joints_uvd, p.camera, preprocess)
