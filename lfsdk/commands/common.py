"""What the `lfsdk` subcommands share: reading depth files, the backend options, building the estimator."""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..backends.base import PRECISIONS, REGISTRY
from ..estimator import HandPoseEstimator
from ..skeletons import get_skeleton

__all__ = ["DEPTH_SUFFIXES", "read_depth_file", "frames", "add_backend_arguments", "make_estimator", "joint_names"]

DEPTH_SUFFIXES = (".png", ".npy")
#: the largest PNG read as a depth frame (pixels): 8K × 8K, far above any depth sensor
MAX_PIXELS = 8192 * 8192


def _read_npy(p: Path) -> np.ndarray:
    try:
        a = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{p}: not a readable .npy array ({e})") from None
    if not isinstance(a, np.ndarray):  # np.load opens an .npz (zip) whatever the file is called
        a.close()
        raise ValueError(f"{p}: an .npz archive named .npy: expected one .npy array (np.save)")
    if a.dtype.kind not in "iuf" or a.ndim not in (2, 3):
        raise ValueError(f"{p}: not a depth image (array {a.dtype} of shape {a.shape}; expected (H, W) or "
                         "(B, H, W) integers or floats in mm)")
    return a


def _read_png(p: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                mode, (w, h) = img.mode, img.size
                if w * h > MAX_PIXELS:
                    raise ValueError(f"{p}: {w}×{h} = {w * h} pixels is not a depth frame (at most {MAX_PIXELS})")
                a = np.array(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ValueError(f"{p}: refused as a decompression bomb ({e})") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:  # PIL raises SyntaxError for some bad headers
        raise ValueError(f"{p}: not a readable PNG ({e})") from None
    if mode not in ("I;16", "I;16B", "I;16L", "I") or a.ndim != 2:
        raise ValueError(f"{p}: not a depth image (PNG mode {mode}, shape {a.shape}; expected a "
                         "single-channel 16-bit PNG of millimetres)")
    if a.dtype != np.uint16:
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ValueError(f"{p}: values {a.min()}..{a.max()} do not fit 16-bit depth in mm")
        a = a.astype(np.uint16)
    return a


def read_depth_file(path: str | Path) -> np.ndarray:
    """A depth file → (H, W) or (B, H, W) millimetres: a single-channel 16-bit PNG (uint16, at most
    MAX_PIXELS) or a .npy array of integers/floats (read without pickle). Anything else raises ValueError
    naming the file (FileNotFoundError when it is not there)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file" + (" (a directory)" if p.is_dir() else ""))
    if p.suffix.lower() == ".npy":
        return _read_npy(p)
    if p.suffix.lower() == ".png":
        return _read_png(p)
    raise ValueError(f"{p}: unsupported file type {p.suffix or '(none)'!r}: expected a 16-bit .png or a .npy")


def frames(files: list[str]) -> Iterator[tuple[str, int, np.ndarray]]:
    """(file, index within the file, (H, W) frame) for every frame of every file, read one file at a time."""
    for f in files:
        a = read_depth_file(f)
        for i, frame in enumerate(a if a.ndim == 3 else a[None]):
            yield f, i, frame


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", choices=["auto", *REGISTRY],
                   help="inference backend (default: auto, the fastest usable here)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--precision", default=None, choices=PRECISIONS, help="default: the backend's")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads for the CPU pre/post-processing (and the torch backend); "
                        "default 1: these ops are small, and more threads than free cores slow them down")


def make_estimator(args: argparse.Namespace, **kw):
    if args.torch_threads < 1:
        raise ValueError(f"--torch-threads must be ≥ 1, got {args.torch_threads}")
    torch.set_num_threads(args.torch_threads)  # the command owns its process: a global setting is fine here

    opts = dict(backend=args.backend, device=args.device, precision=args.precision, **kw)
    if getattr(args, "model", None):
        return HandPoseEstimator(args.model, **opts)
    return HandPoseEstimator.from_pretrained(**opts)


def joint_names(skeleton: str, m: int) -> list[str]:
    """The layout's joint names when lfsdk.skeletons knows `skeleton` with m joints, else joint0…joint{m-1}."""
    try:
        sk = get_skeleton(skeleton)
    except ValueError:
        sk = None
    return list(sk.names) if sk is not None and sk.num_joints == m else [f"joint{j}" for j in range(m)]
