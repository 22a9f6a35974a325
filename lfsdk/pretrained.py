"""The embedded default model and sample frames that ship inside the package (no download, no dataset).

    from lfsdk.pretrained import default_model_path, load_default, sample_frames
    model = load_default()                  # LatentFusion, eval mode (lfsdk/assets/default/)
    frames = sample_frames()                # 4 synthetic depth frames with camera and ground truth

The default was trained by `lfsdk-train` on the synthetic renderer (lfsdk.data.synthetic); how, and its
held-out report, are in lfsdk/assets/default/ (config.json "extra", eval.md).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lfsdk.geometry import Camera
from lfsdk.model import LatentFusion, load_model

__all__ = ["ASSETS", "default_model_path", "load_default", "SampleFrame", "sample_frames"]

ASSETS = Path(__file__).resolve().parent / "assets"


def default_model_path() -> Path:
    """Folder of the shipped default checkpoint (model.safetensors + config.json)."""
    return ASSETS / "default"


def load_default(device: str | torch.device = "cpu") -> LatentFusion:
    """The shipped default model in eval mode (raises CheckpointError, naming the file, if it is damaged)."""
    return load_model(default_model_path(), device)


@dataclass(frozen=True)
class SampleFrame:
    name: str
    depth: np.ndarray  # (H, W) uint16 mm
    camera: Camera
    layout: str
    joints_xyz: np.ndarray  # (M, 3) float32 mm, ground truth
    joints_uvd: np.ndarray  # (M, 3) float32


def sample_frames(folder: str | Path | None = None) -> list[SampleFrame]:
    """The sample depth frames (16-bit PNG, mm) with their camera and ground-truth joints (samples.json)."""
    from PIL import Image

    folder = Path(folder) if folder else ASSETS / "samples"
    index = folder / "samples.json"
    try:
        meta = json.loads(index.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise FileNotFoundError(f"{index}: cannot read the sample index ({e})") from None
    cam = Camera(**meta["camera"])
    out = []
    for f in meta["frames"]:
        depth = np.asarray(Image.open(folder / f["file"])).astype(np.uint16)
        out.append(SampleFrame(f["file"], depth, cam, meta["layout"], np.asarray(f["joints_xyz"], np.float32),
                               np.asarray(f["joints_uvd"], np.float32)))
    return out
