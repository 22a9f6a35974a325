"""MSRA Hand Gesture Dataset 2015 (Sun et al. 2015), read from its official layout:

    ROOT/P0 … P8/<gesture>/joint.txt           first line: frame count N; then N lines of 21 × (x y z)
    ROOT/P0 … P8/<gesture>/000000_depth.bin …  int32 header (img_width, img_height, left, top, right, bottom),
                                               then float32 depth of the box rows top..bottom−1, columns
                                               left..right−1, row-major; zero outside the box
    gestures: 1 … 9, I, IP, L, MP, RP, T, TIP, Y

    frames = open_msra("/data/cvpr15_MSRAHandGestureDB", "test", fold=3)   # leave-P3-out test split

Format details, checked against public readers:
- Header and box: DPP MSRA15Importer.loadDepthMap (six 'i', `imgdata[top:bottom, left:right] = patch`), V2Vpt
  datasets/msra_hand.py load_depthmap (six 'I', same slice), PREN util.read_depth_from_bin (uint32 header, same
  slice), V2V data/MSRA/data.lua (inclusive right−1 / bottom−1: the same pixels). Signed or unsigned makes no
  difference for valid headers; we read little-endian int32 and reject negative or out-of-image boxes.
- Depth is memory-mapped (np.memmap at byte offset 24), only the box is read.
- joint.txt is camera xyz with y UP and z NEGATIVE: DPP negates z (`gt3Dorig[:, 2] *= -1`) and projects with
  v = uy − y·fy/z; V2V and V2Vpt negate z (`-splitted[...]`) and use pixel2world (imgHeight/2 − y). So in
  lfsdk's convention (y down, z > 0) a file row (x, y, z) is (x, −y, −z). Frame i is line i+2 and
  {i:06d}_depth.bin (DPP `str(i).zfill(6)`, V2V `lid-2`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from tqdm import tqdm

from .registry import register_dataset
from .protocol import MSRA, MSRA_GESTURES, MSRA_SUBJECTS, msra_fold
from .readers import (DatasetLayoutError, LabelledFrames, crop_dataset, keep_existing, reader_split, require_file, to_numpy_uvd)

__all__ = ["open_msra", "read_msra_depth", "read_msra_joints", "msra_depth_name", "HEADER_BYTES", "msra_dataset"]

HEADER_BYTES = 6 * 4
#: file (x, y, z) → lfsdk (x, −y, −z)
_FILE_TO_LFSDK = np.array([1.0, -1.0, -1.0], np.float32)


def msra_depth_name(frame: int) -> str:
    return f"{frame:06d}_depth.bin"


def read_msra_depth(path: str | os.PathLike) -> np.ndarray:
    """MSRA .bin → (img_height, img_width) float32 mm, the box filled from the file, zero elsewhere."""
    path = Path(path)
    size = path.stat().st_size
    if size < HEADER_BYTES:
        raise ValueError(f"{path}: {size} bytes, shorter than the 24-byte MSRA header")
    width, height, left, top, right, bottom = (int(v) for v in np.fromfile(path, dtype="<i4", count=6))
    if not (width > 0 and height > 0 and 0 <= left <= right <= width and 0 <= top <= bottom <= height):
        raise ValueError(f"{path}: bad MSRA header (img_width, img_height, left, top, right, bottom) = "
                         f"{(width, height, left, top, right, bottom)}; expected 0 ≤ left ≤ right ≤ width and "
                         f"0 ≤ top ≤ bottom ≤ height")
    box_h, box_w = bottom - top, right - left
    expected = HEADER_BYTES + 4 * box_h * box_w
    if size != expected:
        raise ValueError(f"{path}: {size} bytes, expected {expected} (24-byte header + {box_h}×{box_w} float32 box)")
    depth = np.zeros((height, width), np.float32)
    if box_h and box_w:
        box = np.memmap(path, dtype="<f4", mode="r", offset=HEADER_BYTES, shape=(box_h, box_w))
        depth[top:bottom, left:right] = box
        del box
    return depth


def read_msra_joints(path: str | os.PathLike) -> np.ndarray:
    """joint.txt → (N, 21, 3) float32 xyz in lfsdk's convention (y down, z > 0)."""
    with open(path) as f:
        first = f.readline().split()
        if len(first) != 1 or not first[0].isdigit():
            raise ValueError(f"{path}:1: expected the frame count, got {' '.join(first)[:40]!r}")
        n = int(first[0])
        rows = [line.split() for line in f if line.strip()]
    m = MSRA.num_joints * 3
    if len(rows) != n:
        raise ValueError(f"{path}: header says {n} frames but {len(rows)} joint lines follow")
    for i, r in enumerate(rows):
        if len(r) != m:
            raise ValueError(f"{path}:{i + 2}: {len(r)} numbers, expected {m} (21 joints × x y z)")
    try:
        xyz = np.asarray(rows, dtype=np.float32).reshape(n, MSRA.num_joints, 3)
    except ValueError as e:
        raise ValueError(f"{path}: non-numeric joint value ({e})") from None
    return xyz * _FILE_TO_LFSDK


def _subjects_for(split: str, fold: int | None, subjects: Sequence[str] | None) -> tuple[str, ...]:
    if subjects is not None:
        bad = [s for s in subjects if s not in MSRA_SUBJECTS]
        if bad:
            raise ValueError(f"unknown MSRA subjects {bad}: expected some of {MSRA_SUBJECTS}")
        return tuple(subjects)
    if fold is None:
        raise ValueError("MSRA is evaluated leave-one-subject-out: pass fold=0..8, the held-out subject P<fold> "
                         "(lfsdk-train/lfsdk-eval --fold K), or subjects=[...]")
    train, test = msra_fold(fold)
    return train if split == "train" else test


def open_msra(root: str | os.PathLike, split: Literal["train", "test"] = "train", *, fold: int | None = None,
              subjects: Sequence[str] | None = None, missing: Literal["error", "skip"] = "error",
              progress: bool = True) -> LabelledFrames:
    """The MSRA `split` of leave-one-subject-out `fold` under `root` (the folder holding P0 … P8).

    fold k: test = subject Pk, train = the other eight. `subjects` overrides the fold (either split).
    """
    root = Path(root)
    if split not in MSRA.splits:
        raise ValueError(f"MSRA split must be one of {MSRA.splits}, got {split!r}")
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: not a directory (expected the MSRA 2015 root with P0 … P8)")
    chosen = _subjects_for(split, fold, subjects)
    sequences = [f"{s}/{g}" for s in chosen for g in MSRA_GESTURES]
    paths, xyzs = [], []
    for seq in tqdm(sequences, desc=f"indexing MSRA {split}", unit="sequence", disable=not progress, leave=False):
        xyz = read_msra_joints(require_file(root, f"{seq}/joint.txt", "MSRA 2015", "each gesture's joint.txt"))
        paths += [root / seq / msra_depth_name(i) for i in range(len(xyz))]
        xyzs.append(xyz)
    xyz = np.concatenate(xyzs)
    keep = keep_existing(paths, f"MSRA {split}", missing, progress)
    if len(keep) == 0:
        raise DatasetLayoutError(f"{root}: no MSRA depth frames ({msra_depth_name(0)} …) beside the joint.txt files")
    xyz = xyz[keep]
    return LabelledFrames(MSRA, split, root, [paths[i] for i in keep], xyz, to_numpy_uvd(xyz, MSRA.camera),
                          read_msra_depth)


@register_dataset("msra")
def msra_dataset(split: str, root: str | os.PathLike | None, preprocess, fold: int | None = None,
                 n: int | None = None, missing: Literal["error", "skip"] = "error", progress: bool = True):
    """`lfsdk-train --dataset msra --fold K --root ROOT` / `lfsdk-eval`: leave-subject-K-out. 'val' is
    ≤ protocol.VAL_FRAMES evenly spaced frames of the held-out subject; n keeps n evenly spaced frames."""
    if root is None:
        raise DatasetLayoutError("MSRA needs a root: the folder holding P0 … P8")
    frames = open_msra(root, reader_split(split), fold=fold, missing=missing, progress=progress)
    return crop_dataset(frames, preprocess, split, n, progress)
