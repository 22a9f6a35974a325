"""How far the crop centre lands from the palm, per localisation pass, and the error each pass gives.

    python benchmarks/centre_error.py lfsdk/assets/default --split val --n 500 --root runs/cache

Pass 1: the depth centre of mass (the estimator's centre rule). Pass 2 (3): re-cropped around the palm of
the previous pass's prediction. Prints JSON: per pass, the centre's distance from the true palm (median,
mean, p90, per-axis mean and σ in camera mm) and the mean joint error. This measured σ sizes
`lfsdk-train --jitter-mm`.
"""
from __future__ import annotations

import argparse
import json

import torch

from lfsdk.data.dataset import SYNTHETIC_SEEDS, HandCropDataset, PreprocessConfig, synthetic_frames
from lfsdk.data.palm import palm_weights
from lfsdk.evaluate import joint_errors, predict
from lfsdk.geometry import Camera
from lfsdk.model import load_model
from lfsdk.train_eval import centre_error_mm, second_pass


def _stats(e: torch.Tensor) -> dict:
    d = e.norm(dim=1)
    return {"median_mm": round(float(d.median()), 2), "mean_mm": round(float(d.mean()), 2),
            "p90_mm": round(float(d.quantile(0.9)), 2), "axis_mean_mm": [round(float(v), 2) for v in e.mean(0)],
            "axis_std_mm": [round(float(v), 2) for v in e.std(0)]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--split", default="val", choices=sorted(SYNTHETIC_SEEDS))
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--root", default="runs/cache", help="render cache")
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (CPUs with AVX512_BF16/AMX)")
    args = p.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.checkpoint)
    cam = Camera.parse(model.config.extra.get("camera", "icvl"))
    pre = PreprocessConfig(cube=model.config.cube_size, size=model.config.input_size)
    f = synthetic_frames(args.n, SYNTHETIC_SEEDS[args.split], cam, model.config.skeleton, cache_dir=args.root)
    ds = HandCropDataset(f["depth"], f["joints_uvd"], cam, pre)
    depth = torch.as_tensor(f["depth"])[ds.kept]
    w = palm_weights(model.config.skeleton)
    dtype = torch.bfloat16 if args.bf16 else None
    pred = predict(model, ds, 64, "cpu", dtype)
    centres = ds.centers_uvd
    out = {"checkpoint": args.checkpoint, "split": args.split, "frames": len(ds), "passes": []}
    for k in range(args.passes):
        out["passes"].append({"pass": k + 1, "centre": _stats(centre_error_mm(centres, ds.joints_uvd, w, cam)),
                              "mean_joint_error_mm": round(float(joint_errors(pred["xyz"], pred["true_xyz"]).mean()), 2)})
        if k + 1 < args.passes:
            pred = second_pass(model, ds, depth, w, pred, "cpu", dtype)
            centres = pred["centers_uvd"]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
