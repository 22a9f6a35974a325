"""Depth frames from files: a single-channel 16-bit PNG or a .npy array of millimetres, read without pickle,
every refusal one line naming the file."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["DEPTH_SUFFIXES", "MAX_PIXELS", "read_depth_file"]

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
