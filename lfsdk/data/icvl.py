"""ICVL Hand Posture Dataset (Tang et al. 2014), read from its official layout:

    ROOT/Training/labels.txt                 "<seq>/image_XXXX.png u1 v1 d1 … u16 v16 d16" per line
    ROOT/Training/Depth/<seq>/image_XXXX.png 320×240 16-bit grey PNG, depth in mm
    ROOT/Testing/test_seq_1.txt, test_seq_2.txt  the same line format, 702 + 894 frames
    ROOT/Testing/Depth/test_seq_1/…

    frames = open_icvl("/data/ICVL", "test")     # LabelledFrames, 16 joints

Format details, checked against public readers:
- Labels are image coordinates (u, v px, d mm), 16 joints after the file name: DPP ICVLImporter.loadSequence
  (`part[joint*3+xyz+1]`, then jointsImgTo3D), V2V data/ICVL/data.lua (`splitted[1+(jid-1)*3+k]` "pixel coord",
  then pixel2world). Both convert with y DOWN ((v − cy)·d/fy) — lfsdk's convention, so no flip here.
- Depth paths are relative to <split>/Depth/ (V2V `db_dir .. "Training/Depth/" .. name`; A2J data_preprosess.m
  `folderpath = train_icvl/Depth/`), single-channel 16-bit (DPP asserts one band).
- Test frames are test_seq_1 then test_seq_2, in file order (V2V, A2J).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image
from tqdm import tqdm

from .registry import register_dataset
from .protocol import ICVL, ICVL_TEST_SEQUENCES
from .readers import (DatasetLayoutError, LabelledFrames, crop_dataset, keep_existing, reader_split, require_file, to_numpy_xyz)

__all__ = ["open_icvl", "read_icvl_depth", "read_icvl_labels", "ICVL_LABEL_FILES", "icvl_dataset"]

#: Label files per split, relative to the root (V2V data/ICVL/data.lua).
ICVL_LABEL_FILES: dict[str, tuple[str, ...]] = {
    "train": ("Training/labels.txt",),
    "test": tuple(f"Testing/{s}.txt" for s in ICVL_TEST_SEQUENCES),
}


def read_icvl_depth(path: str | os.PathLike) -> np.ndarray:
    """ICVL 16-bit depth PNG → (H, W) float32 mm."""
    with Image.open(path) as im:
        if im.mode not in ("I;16", "I;16B", "I;16L", "I"):
            raise ValueError(f"{path}: ICVL depth PNGs are single-channel 16-bit, got mode {im.mode}")
        return np.asarray(im).astype(np.float32)


def read_icvl_labels(path: str | os.PathLike, progress: bool = False) -> tuple[list[str], np.ndarray]:
    """An ICVL label file → (names, joints_uvd (N, 16, 3) float32). Blank lines are ignored.

    Rows go straight into a growing float32 buffer (331006 training lines would be ~1 GB as Python floats).
    """
    names: list[str] = []
    m = ICVL.num_joints * 3
    buf = np.empty((1024, m), np.float32)
    with open(path) as f:
        for lineno, line in enumerate(tqdm(f, desc=f"reading {Path(path).name}", unit="line", disable=not progress,
                                           leave=False), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 1 + m:
                raise ValueError(f"{path}:{lineno}: {len(parts)} fields, expected a file name and {m} numbers "
                                 f"(16 joints × u v d)")
            if len(names) == len(buf):
                buf = np.concatenate((buf, np.empty_like(buf)))
            try:
                buf[len(names)] = [float(t) for t in parts[1:]]
            except ValueError:
                raise ValueError(f"{path}:{lineno}: non-numeric joint value in {line.strip()[:80]!r}") from None
            names.append(parts[0])
    return names, buf[:len(names)].reshape(-1, ICVL.num_joints, 3).copy()


def open_icvl(root: str | os.PathLike, split: Literal["train", "test"] = "train", *,
              missing: Literal["error", "skip"] = "error", progress: bool = True) -> LabelledFrames:
    """The ICVL `split` under `root` (the folder holding Training/ and Testing/)."""
    root = Path(root)
    if split not in ICVL.splits:
        raise ValueError(f"ICVL split must be one of {ICVL.splits}, got {split!r}")
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: not a directory (expected the ICVL root with Training/ and Testing/)")
    paths, uvds = [], []
    for rel in ICVL_LABEL_FILES[split]:
        label_file = require_file(root, rel, "ICVL", f"the {split} label file {Path(rel).name}")
        names, uvd = read_icvl_labels(label_file, progress)
        depth_dir = label_file.parent / "Depth"
        paths += [depth_dir / n for n in names]
        uvds.append(uvd)
    uvd = np.concatenate(uvds)
    keep = keep_existing(paths, f"ICVL {split}", missing, progress)
    if len(keep) == 0:
        raise DatasetLayoutError(f"{root}: no ICVL depth frames found under {ICVL_LABEL_FILES[split][0].split('/')[0]}"
                                 f"/Depth/ for the {len(paths)} labelled frames")
    uvd = uvd[keep]
    return LabelledFrames(ICVL, split, root, [paths[i] for i in keep], to_numpy_xyz(uvd, ICVL.camera), uvd,
                          read_icvl_depth)


@register_dataset("icvl")
def icvl_dataset(split: str, root: str | os.PathLike | None, preprocess, n: int | None = None,
                 missing: Literal["error", "skip"] = "error", progress: bool = True):
    """`lfsdk-train --dataset icvl --root ROOT` / `lfsdk-eval`. 'val' is ≤ protocol.VAL_FRAMES evenly spaced
    test frames; n keeps n evenly spaced frames."""
    if root is None:
        raise DatasetLayoutError("ICVL needs a root: the folder holding Training/ and Testing/")
    frames = open_icvl(root, reader_split(split), missing=missing, progress=progress)
    return crop_dataset(frames, preprocess, split, n, progress)
