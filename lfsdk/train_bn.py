"""Precise BatchNorm statistics for a checkpoint of a finished (or running) lfsdk-train run: rebuild the
run's training crops from its train_config.json, re-estimate the statistics with the weights fixed
(lfsdk.model.precise_bn), and write the checkpoint with its held-out error before and after.

    python -m lfsdk.train_bn runs/lite --checkpoint last --batches 100    # → runs/lite/last-pbn/

Runs trained since --precise-bn (on by default) already evaluate and save with precise statistics; this
repairs checkpoints from before it, and re-estimates on more batches than a run spends per evaluation.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path

import torch

from lfsdk.data.palm import palm_weights
from lfsdk.model import load_model, save_checkpoint
from lfsdk.train import _datasets, _precise_bn, _preprocess
from lfsdk.train_config import TrainConfig
from lfsdk.train_eval import held_out_mm

__all__ = ["run_config", "main"]


def run_config(run: Path) -> TrainConfig:
    """The TrainConfig a run was started with (its train_config.json; unknown keys from other versions dropped)."""
    path = run / "train_config.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read the run's configuration ({e})") from None
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in saved.items() if k in names})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lfsdk.train_bn", description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="the lfsdk-train --out folder (its train_config.json and cache)")
    p.add_argument("--checkpoint", default="last", help="best, last, or a checkpoint folder (default: last)")
    p.add_argument("--batches", type=int, default=100, help="augmented training batches to average (default 100)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: RUN/<checkpoint>-pbn)")
    args = p.parse_args(argv)
    try:
        cfg = replace(run_config(args.run), precise_bn=args.batches, render_workers=1, progress=False)
        ckpt = args.run / args.checkpoint if args.checkpoint in ("best", "last") else Path(args.checkpoint)
        model = load_model(ckpt)
    except ValueError as e:  # CheckpointError included
        print(f"lfsdk.train_bn: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, cfg.threads))
    pre = _preprocess(cfg)
    train_set, val_set, val_depth = _datasets(cfg, pre, cfg.root or str(args.run / "cache"), True, 1)
    dtype = torch.bfloat16 if model.config.extra.get("bf16") else None
    weights = palm_weights(cfg.layout) if val_depth is not None else None
    before = held_out_mm(model, val_set, "cpu", dtype, val_depth, weights)
    used = _precise_bn(cfg, model, train_set, pre, torch.device("cpu"), dtype, step=0)
    after = held_out_mm(model, val_set, "cpu", dtype, val_depth, weights)
    out = args.out or args.run / f"{ckpt.name}-pbn"
    save_checkpoint(model, out, precise_bn=used, val_mm=after["single"],
                    **({"val_two_pass_mm": after["two_pass"]} if "two_pass" in after else {}))
    print(json.dumps({"checkpoint": str(ckpt), "out": str(out), "batches": used, "before": before, "after": after}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
