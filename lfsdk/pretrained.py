"""The models and sample frames that ship inside the package (no download, no dataset).

    from lfsdk.pretrained import model_path, pick_pretrained, load_default, sample_frames
    model_path("lite")                      # lfsdk/assets/lite/ (model.safetensors, config.json, hands.json)
    pick_pretrained(device="cpu")           # "lite" on a CPU without native BF16, else "default"
    model = load_default()                  # LatentFusion, eval mode (lfsdk/assets/default/)
    frames = sample_frames()                # 4 synthetic depth frames with camera and ground truth

"default" is the paper's network (128 px crops, 128 channels); "lite" a smaller one (96 px, 64 channels)
for CPUs that compute FP32 only, where the full network costs ~4x more per frame. Both were trained by
`lfsdk-train` on the synthetic renderer (lfsdk.data.synthetic); how, and their held-out reports, are in
lfsdk/assets/<name>/ (config.json "extra", eval.md).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lfsdk.cpu import cpu_has_native_bf16
from lfsdk.geometry import Camera
from lfsdk.model import LatentFusion, load_model

__all__ = ["ASSETS", "PRETRAINED", "model_path", "pick_pretrained", "default_model_path", "load_default",
           "SampleFrame", "sample_frames"]

ASSETS = Path(__file__).resolve().parent / "assets"
#: The shipped models, by name: what each is for.
PRETRAINED = {"default": "the paper's network: 128 px crops, 128 channels",
              "lite": "96 px crops, 64 channels: for CPUs without native BF16"}


def model_path(name: str = "default") -> Path:
    """Folder of a shipped checkpoint (model.safetensors + config.json + hands.json) by its PRETRAINED name."""
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}: expected one of {sorted(PRETRAINED)}")
    return ASSETS / name


def default_model_path() -> Path:
    """Folder of the shipped default checkpoint (model.safetensors + config.json)."""
    return model_path("default")


def pick_pretrained(device: str | torch.device | None = None, backend: str = "auto") -> str:
    """The shipped model to use when the caller names none: "lite" when the network will run on a CPU that
    has no native BF16 (AVX512_BF16/AMX) — there the full network runs in FP32 at ~4x the lite's cost —
    else "default". device None means CUDA when torch sees one; TensorRT always runs on a GPU."""
    if backend == "tensorrt":
        return "default"
    on_cpu = torch.device(device).type == "cpu" if device is not None else not torch.cuda.is_available()
    lite = on_cpu and not cpu_has_native_bf16() and (model_path("lite") / "model.safetensors").is_file()
    return "lite" if lite else "default"


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
