"""Resume state of a training run, without pickle: resume.safetensors holds the optimizer's tensors
(`state.<param>.<name>`) and any extra tensors such as random-generator states (`extra.<name>`);
resume.json holds the optimizer's param groups and scalars and the run's state (step, epoch, best, history,
elapsed seconds). Both are written to temporary names and renamed, so an interrupted write leaves the
previous pair readable.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from lfsdk.model.checkpoint import CheckpointError

__all__ = ["save_resume", "load_resume"]


def save_resume(directory: Path, optimizer: torch.optim.Optimizer, state: dict,
                tensors: dict[str, torch.Tensor] | None = None) -> None:
    """Write resume.safetensors + resume.json into `directory`. `state` must be JSON-serialisable."""
    from safetensors.torch import save_file

    directory = Path(directory)
    opt = optimizer.state_dict()
    flat, scalars = {}, {}
    for pid, st in opt["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                flat[f"state.{pid}.{k}"] = v.detach().contiguous().cpu()
            else:
                scalars[f"{pid}.{k}"] = v
    for name, v in (tensors or {}).items():
        flat[f"extra.{name}"] = v.detach().contiguous().cpu()
    save_file(flat, str(directory / "resume.safetensors.tmp"))
    meta = {"param_groups": opt["param_groups"], "scalars": scalars, **state}
    (directory / "resume.json.tmp").write_text(json.dumps(meta, indent=1))
    os.replace(directory / "resume.safetensors.tmp", directory / "resume.safetensors")
    os.replace(directory / "resume.json.tmp", directory / "resume.json")


def load_resume(directory: Path, optimizer: torch.optim.Optimizer) -> tuple[dict, dict[str, torch.Tensor]]:
    """Restore the optimizer from save_resume's files. Returns (the saved state dict, the extra tensors)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    tpath, jpath = directory / "resume.safetensors", directory / "resume.json"
    try:
        meta = json.loads(jpath.read_text())
        flat = load_file(str(tpath))
    except (OSError, ValueError, SafetensorError) as e:
        raise CheckpointError(f"{directory}: unreadable resume state ({e})") from None
    state: dict = {}
    extra = {}
    for key, v in flat.items():
        kind, rest = key.split(".", 1)
        if kind == "extra":
            extra[rest] = v
            continue
        pid, name = rest.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    for key, v in meta.pop("scalars").items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    try:
        optimizer.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{jpath}: optimizer state does not match the model ({e})") from None
    return meta, extra
