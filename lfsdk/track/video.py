"""Overlay frames of tracked hands (id, score and side next to each hand) and an MP4 writer (PyAV)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..draw import colorize_depth, skeleton_style

__all__ = ["draw_hands", "VideoWriter", "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")

_ID_COLORS = ((255, 80, 80), (80, 200, 255), (120, 255, 120), (255, 200, 60))


def draw_hands(depth: np.ndarray, hands: Sequence, skeleton: str) -> np.ndarray:
    """depth (H, W) mm and TrackedHands → (H, W, 3) uint8 RGB: boxes coloured by id, skeletons, labels."""
    from PIL import Image, ImageDraw

    centre = float(np.median([h.centre_uvd[2] for h in hands])) if hands else None
    img = Image.fromarray(colorize_depth(depth, centre))
    draw = ImageDraw.Draw(img)
    lw = max(1, round(min(depth.shape) / 160))
    for h in hands:
        col = _ID_COLORS[h.id % len(_ID_COLORS)]
        if np.isfinite(h.box).all():
            draw.rectangle([float(v) for v in h.box], outline=col, width=lw)
            draw.text((float(h.box[0]) + 2, float(h.box[1]) + 1), f"{h.id} {h.score:.2f} {h.handedness[0]}", fill=col)
        bones, colors = skeleton_style(skeleton, len(h.joints_uvd))
        uv = h.joints_uvd[:, :2]
        for child, parent in bones:
            draw.line([tuple(uv[parent]), tuple(uv[child])], fill=colors[child], width=lw + 1)
    return np.asarray(img)


class VideoWriter:
    """VideoWriter("out.mp4", fps=30).write(rgb (H, W, 3) uint8) ... .close(); H.264 through PyAV."""

    def __init__(self, path: str | Path, fps: float = 30.0):
        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise ValueError(f"{self.path}: expected a video file name ending in {', '.join(VIDEO_SUFFIXES)}")
        try:
            import av
        except ImportError:
            raise RuntimeError("--video needs PyAV: pip install 'lfsdk[video]'") from None
        self._av = av
        self._container = av.open(str(self.path), mode="w")
        self._stream = None
        self.fps = int(round(fps)) or 30

    def write(self, rgb: np.ndarray) -> None:
        h, w = rgb.shape[:2]
        if self._stream is None:
            self._stream = self._container.add_stream("libx264" if "libx264" in self._av.codecs_available
                                                      else "mpeg4", rate=self.fps)
            self._stream.width, self._stream.height = w - w % 2, h - h % 2
            self._stream.pix_fmt = "yuv420p"
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h - h % 2, :w - w % 2]), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()
