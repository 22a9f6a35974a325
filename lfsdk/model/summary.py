"""Parameter and MAC accounting per sub-network, beside the paper's Table 4 figures."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .network import LatentFusion

__all__ = ["PAPER_PARAMS", "StageStats", "model_summary", "format_summary"]

#: Paper, section IV-B.2: parameters per sub-network (M=14, NYU).
PAPER_PARAMS = {"features": 510_000, "branches": 1_419_000, "fusion": 71_000, "total": 2_000_000}


@dataclass(frozen=True)
class StageStats:
    name: str
    params: int
    macs: int  # multiply-accumulates per frame
    paper_params: int | None


def _conv_macs(model: nn.Module, crops: torch.Tensor) -> dict[str, int]:
    """MACs of every Conv2d per frame, keyed by the top-level stage it sits in."""
    macs: dict[str, int] = {}
    hooks = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Conv2d):
            stage = name.split(".")[0]

            def hook(m, _inp, out, stage=stage):
                k = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                macs[stage] = macs.get(stage, 0) + out[0].numel() * k

            hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(crops)
    finally:
        for h in hooks:
            h.remove()
    return macs


def model_summary(model: LatentFusion) -> list[StageStats]:
    """Parameters and MACs per frame for features / branches / fusion / total."""
    cfg = model.config
    was_training = model.training
    model.eval()
    crops = torch.zeros(1, 1, cfg.input_size, cfg.input_size, device=next(model.parameters()).device)
    macs = _conv_macs(model, crops)
    model.train(was_training)
    # the decode: softmax (~1 MAC/pixel) + 3 multiply-accumulates per pixel, per joint, per branch
    hw = cfg.heatmap_size ** 2
    decode_macs = 3 * cfg.num_joints * hw * 4
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    rows = [
        StageStats("features", count(model.features), macs.get("features", 0), PAPER_PARAMS["features"]),
        StageStats("branches", count(model.branches) + model.omega.numel(),
                   macs.get("branches", 0) + decode_macs, PAPER_PARAMS["branches"]),
        StageStats("fusion", count(model.fusion), macs.get("fusion", 0), PAPER_PARAMS["fusion"]),
    ]
    rows.append(StageStats("total", sum(r.params for r in rows), sum(r.macs for r in rows), PAPER_PARAMS["total"]))
    return rows


def format_summary(model: LatentFusion) -> str:
    """A Markdown table: stage, params, paper params, difference, GMAC/frame."""
    lines = [f"Latent Fusion, M={model.config.num_joints} joints, {model.config.input_size}² input",
             "", "| stage | params | paper (M=14) | diff | MMAC/frame |", "|---|---:|---:|---:|---:|"]
    for r in model_summary(model):
        diff = f"{(r.params - r.paper_params) / r.paper_params:+.1%}" if r.paper_params else ""
        lines.append(f"| {r.name} | {r.params / 1e6:.3f}M | {r.paper_params / 1e6:.3f}M | {diff} | {r.macs / 1e6:.1f} |")
    return "\n".join(lines)
