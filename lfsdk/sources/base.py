"""What every source yields: Frame(timestamp s, depth (H, W) uint16 mm, Camera), and the one error type
a source raises when it cannot open or read (its message names the file or device and says why)."""
from __future__ import annotations

from typing import Iterable, NamedTuple

import numpy as np

from ..geometry import Camera

__all__ = ["Frame", "SourceError", "as_uint16_mm"]


class Frame(NamedTuple):
    timestamp: float  # seconds, increasing within a source
    depth: np.ndarray  # (H, W) uint16 millimetres, 0 = missing
    camera: Camera


class SourceError(RuntimeError):
    """A source that cannot open or read: which file or device, and why, in one line."""


def as_uint16_mm(depth: np.ndarray, what: str) -> np.ndarray:
    """(H, W) integer or float millimetres → uint16 (rounded); out-of-range values raise SourceError naming `what`."""
    a = np.asarray(depth)
    if a.ndim != 2:
        raise SourceError(f"{what}: expected one (H, W) depth frame, got shape {a.shape}")
    if a.dtype == np.uint16:
        return a
    if a.dtype.kind not in "iuf":
        raise SourceError(f"{what}: depth dtype {a.dtype} is not numeric millimetres")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise SourceError(f"{what}: depth holds NaN or inf (mark missing pixels with 0)")
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise SourceError(f"{what}: depth {a.min()}..{a.max()} does not fit uint16 millimetres (0..65535)")
    return np.rint(a).astype(np.uint16)


def check_increasing(timestamps: Iterable[float], what: str) -> None:
    """Raise SourceError unless the timestamps strictly increase."""
    prev = None
    for i, t in enumerate(timestamps):
        if prev is not None and not t > prev:
            raise SourceError(f"{what}: timestamps must increase, frame {i} has {t} after {prev}")
        prev = t
