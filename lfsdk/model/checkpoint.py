"""Checkpoints: a directory (or a pair of files) `model.safetensors` + `config.json`. Never pickle.

    save_checkpoint(model, "run/best")      → run/best/model.safetensors, run/best/config.json
    load_model("run/best")                  → LatentFusion in eval mode
    load_model("run/best/model.safetensors")  (config.json beside it)
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from .._version import __version__
from .network import LatentFusion, ModelConfig

__all__ = ["CheckpointError", "save_checkpoint", "load_model", "resolve_checkpoint", "file_sha256"]

WEIGHTS, CONFIG = "model.safetensors", "config.json"
FORMAT = "lfsdk-latent-fusion/1"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or does not match the network it claims to be."""


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_checkpoint(path: str | os.PathLike) -> tuple[Path, Path]:
    """(weights, config) paths for a checkpoint directory, or for its .safetensors / config.json file."""
    p = Path(path)
    if p.is_dir():
        weights, config = p / WEIGHTS, p / CONFIG
    elif p.suffix == ".safetensors":
        weights, config = p, p.with_name(CONFIG)
    elif p.name == CONFIG:
        weights, config = p.with_name(WEIGHTS), p
    else:
        raise CheckpointError(f"{p}: not a checkpoint (expected a directory with {WEIGHTS} + {CONFIG}, "
                              f"or a .safetensors file with {CONFIG} beside it)")
    for f in (weights, config):
        if not f.is_file():
            raise CheckpointError(f"{f}: missing (a checkpoint is {WEIGHTS} + {CONFIG})")
    return weights, config


def save_checkpoint(model: LatentFusion, directory: str | os.PathLike, **extra) -> Path:
    """Write model.safetensors + config.json into `directory` (created). `extra` goes into config.extra."""
    from safetensors.torch import save_file

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS), metadata={"format": FORMAT})
    cfg = model.config.to_dict()
    cfg["extra"] = {**cfg.get("extra", {}), **extra}
    cfg.update(format=FORMAT, lfsdk_version=__version__)
    (out / CONFIG).write_text(json.dumps(cfg, indent=2) + "\n")
    return out


def read_config(config_path: Path) -> ModelConfig:
    try:
        raw = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{config_path}: not valid JSON ({e})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{config_path}: not an lfsdk Latent Fusion config "
                              f"(format {raw.get('format') if isinstance(raw, dict) else None!r}, expected {FORMAT!r})")
    try:
        return ModelConfig.from_dict(raw)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{config_path}: {e}") from None


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> LatentFusion:
    """Load a checkpoint into a LatentFusion in eval mode. Raises CheckpointError with the file and cause."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, config_path = resolve_checkpoint(path)
    config = read_config(config_path)
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights}: not a readable safetensors file ({e})") from None
    model = LatentFusion(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{weights}: weights do not match {config_path.name} "
                              f"(missing {missing[:3]}{'…' if len(missing) > 3 else ''}, "
                              f"unexpected {unexpected[:3]}{'…' if len(unexpected) > 3 else ''})")
    bad = [k for k, v in state.items() if v.shape != expected[k].shape]
    if bad:
        k = bad[0]
        raise CheckpointError(f"{weights}: tensor {k} has shape {tuple(state[k].shape)}, the config "
                              f"(num_joints={config.num_joints}) needs {tuple(expected[k].shape)}")
    nonfinite = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if nonfinite:
        raise CheckpointError(f"{weights}: tensor {nonfinite[0]} holds NaN or inf")
    model.load_state_dict(state)
    return model.to(device).eval()
