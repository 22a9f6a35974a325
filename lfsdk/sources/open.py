"""One string → a source (the `lfsdk track SOURCE` argument):

    frames/                      a folder of 16-bit PNG / .npy frames (needs camera, and fps unless the
                                 file names end in timestamps)
    take.bag | take.db3          a RealSense recording
    realsense | realsense:SERIAL a live RealSense camera
    synthetic:SCENARIO[:N[:SEED]] a rendered sequence (lfsdk.sources.synthetic.SCENARIOS), N frames
"""
from __future__ import annotations

from pathlib import Path

from ..geometry import Camera
from .base import SourceError
from .folder import FolderSource
from .realsense import RECORDING_SUFFIXES, RealSenseSource
from .synthetic import SCENARIOS, SyntheticSequence

__all__ = ["open_source"]


def _int(text: str, what: str, spec: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SourceError(f"{spec}: {what} must be an integer, got {text!r}") from None


def open_source(spec: str, *, camera: Camera | str | None = None, fps: float | None = None,
                time_unit: str = "s", realtime: bool = False):
    """The source `spec` names (see the module doc); anything else raises SourceError saying what is expected."""
    spec = str(spec)
    if spec.startswith("synthetic:"):
        parts = spec.split(":")[1:]
        if not parts[0] or len(parts) > 3:
            raise SourceError(f"{spec}: expected synthetic:SCENARIO[:FRAMES[:SEED]] with SCENARIO in {SCENARIOS}")
        frames = _int(parts[1], "FRAMES", spec) if len(parts) > 1 else 60
        seed = _int(parts[2], "SEED", spec) if len(parts) > 2 else 0
        return SyntheticSequence(parts[0], frames, fps=fps or 30.0, seed=seed, camera=camera or "icvl")
    if spec == "realsense" or spec.startswith("realsense:"):
        return RealSenseSource(serial=spec.partition(":")[2] or None, fps=int(fps) if fps else None)
    path = Path(spec)
    if path.suffix.lower() in RECORDING_SUFFIXES:
        return RealSenseSource(path, realtime=realtime)
    if path.suffix.lower() == ".mkv":
        raise SourceError(f"{path}: Azure Kinect / Femto .mkv recordings are not supported yet "
                          "(pyk4a-bundle does not install cleanly here)")
    if path.is_dir():
        return FolderSource(path, camera, fps=fps, time_unit=time_unit)
    if not path.exists():
        raise SourceError(f"{spec}: no such folder or recording (expected a folder of depth frames, a "
                          f"{'/'.join(RECORDING_SUFFIXES)} recording, realsense[:SERIAL] or synthetic:SCENARIO)")
    raise SourceError(f"{spec}: not a source (expected a folder of depth frames, a "
                      f"{'/'.join(RECORDING_SUFFIXES)} recording, realsense[:SERIAL] or synthetic:SCENARIO)")
