"""A folder of depth frames — 16-bit PNG or .npy (H, W) millimetres, one frame a file — as a source.

Timestamps come from a frame rate (frame i at i / fps s) or, without one, from the number that ends each
file name (e.g. `depth_1700000000.123.png`, or `000042.npy` with time_unit='ms'); files are ordered by
that number, else naturally (frame2 before frame10). PNGs hold no intrinsics, so the camera is required.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from ..depth_io import read_depth_file
from ..geometry import Camera
from .base import Frame, SourceError, as_uint16_mm, check_increasing

__all__ = ["FolderSource", "TIME_UNITS"]

TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_SUFFIXES = (".png", ".npy")
_TRAILING_NUMBER = re.compile(r"(\d+(?:\.\d+)?)$")


def _natural_key(p: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


class FolderSource:
    """FolderSource(dir, camera="icvl" | Camera | "fx,fy,cx,cy", fps=30) → iterable of Frame."""

    def __init__(self, path: str | Path, camera: Camera | str, *, fps: float | None = None,
                 time_unit: str = "s"):
        self.path = Path(path)
        if not self.path.is_dir():
            raise SourceError(f"{self.path}: no such folder of depth frames")
        if camera is None:
            raise SourceError(f"{self.path}: depth files hold no intrinsics: give camera= (nyu, icvl, msra or "
                              "fx,fy,cx,cy)")
        self.camera = Camera.parse(camera)
        if fps is not None and not (isinstance(fps, (int, float)) and 0 < fps < float("inf")):
            raise SourceError(f"{self.path}: fps must be a positive number, got {fps!r}")
        if time_unit not in TIME_UNITS:
            raise SourceError(f"{self.path}: time_unit must be one of {sorted(TIME_UNITS)}, got {time_unit!r}")
        files = [p for p in self.path.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file()]
        if not files:
            raise SourceError(f"{self.path}: no .png or .npy depth frames in this folder")
        if fps is not None:
            self.files = sorted(files, key=_natural_key)
            self.timestamps = [i / fps for i in range(len(self.files))]
        else:
            self.files, self.timestamps = self._timed(files, TIME_UNITS[time_unit])

    def _timed(self, files: list[Path], unit: float) -> tuple[list[Path], list[float]]:
        stamped = []
        for p in files:
            m = _TRAILING_NUMBER.search(p.stem)
            if m is None:
                raise SourceError(f"{p}: no timestamp at the end of the file name: give fps= (--fps) or name "
                                  "frames like depth_<time>.png")
            stamped.append((float(m.group(1)) * unit, p))
        stamped.sort(key=lambda x: x[0])
        ts = [t for t, _ in stamped]
        check_increasing(ts, f"{self.path} (timestamps from file names)")
        return [p for _, p in stamped], ts

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[Frame]:
        for t, p in zip(self.timestamps, self.files):
            try:
                depth = read_depth_file(p)
            except (ValueError, FileNotFoundError) as e:
                raise SourceError(str(e)) from None
            yield Frame(t, as_uint16_mm(depth, str(p)), self.camera)
