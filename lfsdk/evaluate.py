"""Evaluation: 3D joint error in mm, per joint, per branch vs fused (paper Table 5), the worst-joint success
curve (paper Fig. 6), written as JSON + Markdown + PNG, with overlay pictures of predicted vs true joints.

    lfsdk-eval runs/default/best                      # fixed held-out synthetic set (seed 2020)
    lfsdk-eval lfsdk/assets/default --n 1000 --out lfsdk/assets/default/eval
    lfsdk-eval --scenes                               # finding hands in rendered scenes (lfsdk.scene_eval)

`predict` and `joint_errors` are what training uses for its held-out error, so both report the same number.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from lfsdk.geometry import uvd_to_xyz
from lfsdk.kernels import backproject
from lfsdk.model import BRANCHES, LatentFusion, load_model
from lfsdk import scene_eval

__all__ = ["predict", "joint_errors", "success_curve", "evaluate", "write_report", "training_curve", "main"]

THRESHOLDS_MM = tuple(range(0, 81, 2))


@torch.no_grad()
def predict(model: LatentFusion, dataset, batch_size: int = 64, device: str | torch.device = "cpu",
            autocast_dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """Run `model` over a HandCropDataset. Returns CPU tensors: fused xyz (N, M, 3) mm, branch_xyz
    (N, 3, M, 3) mm, true_xyz (N, M, 3) mm, fusion_weights (N, 3), norm (N, M, 3) fused normalised."""
    was_training = model.training
    model.eval()
    cam, cube = dataset.camera, dataset.preprocess.cube
    fused, branches, weights, norms = [], [], [], []
    for s in range(0, len(dataset), batch_size):
        x = dataset.crops[s:s + batch_size].to(device=device, dtype=torch.float32)
        centers = dataset.centers_uvd[s:s + batch_size].to(device)
        with torch.autocast(torch.device(device).type, dtype=autocast_dtype or torch.float32,
                            enabled=autocast_dtype is not None):
            out = model(x)
        b, m = out.joints.shape[:2]
        _, xyz = backproject(out.joints.float(), centers, cube, cam)
        _, bxyz = backproject(out.branch_joints.float().reshape(b, 3 * m, 3), centers, cube, cam)
        fused.append(xyz.cpu()), branches.append(bxyz.reshape(b, 3, m, 3).cpu())
        weights.append(out.fusion_weights.float().cpu()), norms.append(out.joints.float().cpu())
    model.train(was_training)
    return {"xyz": torch.cat(fused), "branch_xyz": torch.cat(branches), "fusion_weights": torch.cat(weights),
            "norm": torch.cat(norms), "true_xyz": uvd_to_xyz(dataset.joints_uvd, cam)}


def joint_errors(pred_xyz: torch.Tensor, true_xyz: torch.Tensor) -> torch.Tensor:
    """(..., M, 3) mm each → (..., M) Euclidean joint errors in mm."""
    if pred_xyz.shape != true_xyz.shape:
        raise ValueError(f"prediction {tuple(pred_xyz.shape)} and truth {tuple(true_xyz.shape)} differ in shape")
    return (pred_xyz - true_xyz).norm(dim=-1)


def success_curve(errors: torch.Tensor, thresholds=THRESHOLDS_MM) -> list[float]:
    """(N, M) joint errors → for each threshold, the fraction of frames whose worst joint is below it."""
    worst = errors.max(dim=1).values
    return [float((worst <= t).float().mean()) for t in thresholds]


def evaluate(model: LatentFusion, dataset, batch_size: int = 64, device: str = "cpu") -> tuple[dict, dict]:
    """(report dict, raw predictions). The report holds mean errors (fused, per branch, the branch mean),
    per-joint errors, the success curve, and mean fusion weights."""
    p = predict(model, dataset, batch_size, device)
    fused = joint_errors(p["xyz"], p["true_xyz"])  # (N, M)
    per_branch = joint_errors(p["branch_xyz"], p["true_xyz"][:, None].expand_as(p["branch_xyz"]))  # (N, 3, M)
    from lfsdk.data.skeletons import get_skeleton  # noqa: PLC0415 (data is optional for pure inference)
    names = get_skeleton(model.config.skeleton).names if model.config.skeleton in ("nyu", "icvl", "msra") \
        else tuple(str(i) for i in range(fused.shape[1]))
    report = {
        "frames": len(dataset),
        "num_joints": int(fused.shape[1]),
        "mean_error_mm": float(fused.mean()),
        "median_error_mm": float(fused.median()),
        "branch_mean_error_mm": {b: float(per_branch[:, i].mean()) for i, b in enumerate(BRANCHES)},
        "per_joint_error_mm": {n: float(e) for n, e in zip(names, fused.mean(0))},
        "success_thresholds_mm": list(THRESHOLDS_MM),
        "success_rate": success_curve(fused),
        "branch_success_rate": {b: success_curve(per_branch[:, i]) for i, b in enumerate(BRANCHES)},
        "mean_fusion_weights": {b: float(w) for b, w in zip(BRANCHES, p["fusion_weights"].mean(0))},
    }
    best_branch = min(report["branch_mean_error_mm"].values())
    report["fused_better_than_best_branch"] = report["mean_error_mm"] < best_branch
    return report, p


# ------------------------------------------------------------------------------------------------ report
def _markdown(report: dict, title: str) -> str:
    thr = report["success_thresholds_mm"]
    pick = [t for t in (10, 20, 30, 40, 50, 80) if t in thr]
    rate = lambda curve, t: f"{100 * curve[thr.index(t)]:.1f} %"
    lines = [f"# {title}", "", f"{report['frames']} held-out frames, {report['num_joints']} joints.", "",
             "| prediction | mean 3D error (mm) | " + " | ".join(f"worst joint ≤ {t} mm" for t in pick) + " |",
             "|---|---|" + "---|" * len(pick)]
    for name, err in report["branch_mean_error_mm"].items():
        lines.append(f"| branch {name.replace('|', chr(92) + '|')} | {err:.2f} | "
                     + " | ".join(rate(report["branch_success_rate"][name], t) for t in pick) + " |")
    lines.append(f"| **fused** | **{report['mean_error_mm']:.2f}** | "
                 + " | ".join(rate(report["success_rate"], t) for t in pick) + " |")
    w = ", ".join(f"{k} {v:.3f}" for k, v in report["mean_fusion_weights"].items())
    lines += ["", f"Median joint error {report['median_error_mm']:.2f} mm. Mean fusion weights: {w}. "
              f"Fused better than the best single branch: {'yes' if report['fused_better_than_best_branch'] else 'no'}.",
              "", "| joint | mean error (mm) |", "|---|---|"]
    lines += [f"| {n} | {e:.2f} |" for n, e in report["per_joint_error_mm"].items()]
    return "\n".join(lines) + "\n"


def _plots(report: dict, out: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thr = report["success_thresholds_mm"]
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, curve in report["branch_success_rate"].items():
        ax.plot(thr, [100 * c for c in curve], "--", label=f"branch {name}")
    ax.plot(thr, [100 * c for c in report["success_rate"]], "k-", lw=2, label="fused")
    ax.set(xlabel="max joint error threshold (mm)", ylabel="frames within threshold (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "success_rate.png", dpi=100)
    plt.close(fig)
    names = list(report["per_joint_error_mm"])
    fig, ax = plt.subplots(figsize=(max(5, 0.4 * len(names)), 4))
    ax.bar(range(len(names)), list(report["per_joint_error_mm"].values()))
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right")
    ax.set_ylabel("mean error (mm)")
    fig.tight_layout()
    fig.savefig(out / "per_joint_error.png", dpi=100)
    plt.close(fig)
    return [out / "success_rate.png", out / "per_joint_error.png"]


def _overlays(dataset, pred: dict, out: Path, skeleton: str, count: int = 8) -> Path:
    """Depth crops with true (white) and predicted (finger colours) skeletons, in the crop's pixels."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lfsdk.data.skeletons import get_skeleton
    from lfsdk.geometry import uvd_to_cube

    sk = get_skeleton(skeleton)
    n = min(count, len(dataset))
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    size = dataset.crops.shape[-1]
    true_n = dataset.joints[:n]
    err = joint_errors(pred["xyz"][:n], pred["true_xyz"][:n]).mean(1)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(dataset.crops[i, 0].float().numpy(), cmap="gray", vmin=-1, vmax=1)
        for joints, style in ((true_n[i], "white"), (pred["norm"][i], None)):
            px = ((joints[:, :2] + 1) * size / 2 - 0.5).numpy()
            for a, b in sk.bones:
                ax.plot(px[[a, b], 0], px[[a, b], 1], color=style or sk.colors[a], lw=1.5 if style else 2)
        ax.set_title(f"frame {int(dataset.kept[i])}: {float(err[i]):.1f} mm", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "overlays.png", dpi=90)
    plt.close(fig)
    return out / "overlays.png"


def write_report(report: dict, out: str | Path, title: str = "Held-out evaluation",
                 dataset=None, pred: dict | None = None, skeleton: str = "nyu") -> list[Path]:
    """eval.json, eval.md, success_rate.png, per_joint_error.png (+ overlays.png given dataset and pred)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "eval.md").write_text(_markdown(report, title))
    files = [out / "eval.json", out / "eval.md", *_plots(report, out)]
    if dataset is not None and pred is not None:
        files.append(_overlays(dataset, pred, out, skeleton))
    return files


def training_curve(log_jsonl: str | Path, out_png: str | Path) -> Path:
    """Plot lfsdk-train's log.jsonl: held-out mean error (mm) and training loss against step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(log_jsonl).read_text().splitlines() if line.strip()]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([r["step"] for r in rows], [r["val_mm"] for r in rows], "o-", label="held-out mean error (mm)")
    ax.set(xlabel="step", ylabel="mean 3D joint error (mm)")
    ax.grid(alpha=0.3)
    loss = [(r["step"], r["loss"]) for r in rows if r.get("loss") is not None]
    if loss:
        ax2 = ax.twinx()
        ax2.plot(*zip(*loss), "s--", color="tab:red", label="training loss")
        ax2.set_ylabel("loss (L_f + Σ L_i)", color="tab:red")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)


# --------------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    from lfsdk.data.dataset import PreprocessConfig, make_dataset
    from lfsdk.model.checkpoint import CheckpointError

    argv = sys.argv[1:] if argv is None else list(argv)
    if "--scenes" in argv:  # a different benchmark with its own options
        return scene_eval.main([a for a in argv if a != "--scenes"])
    p = argparse.ArgumentParser(prog="lfsdk-eval", description="Evaluate a checkpoint on a held-out set.")
    p.add_argument("checkpoint", help="checkpoint directory (model.safetensors + config.json)")
    p.add_argument("--dataset", default="synthetic", help="registered dataset name (default: synthetic)")
    p.add_argument("--root", default="runs/cache", help="dataset folder (synthetic: render cache)")
    p.add_argument("--split", default="test", help="split to evaluate (synthetic test = fixed seed 2020)")
    p.add_argument("--n", type=int, default=None, help="synthetic only: number of frames (default 1000)")
    p.add_argument("--fold", type=int, default=None,
                   help="msra only: leave-one-subject-out fold, the held-out subject (default: the checkpoint's)")
    p.add_argument("--out", default=None, help="report folder (default: <checkpoint>/eval)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--scenes", action="store_true",
                   help="instead: find hands in held-out rendered scenes, per class (see lfsdk-eval --scenes --help)")
    args = p.parse_args(argv)
    try:
        model = load_model(args.checkpoint, args.device)
        cfg = model.config
        pre = cfg.extra.get("preprocess", {})
        preprocess = PreprocessConfig(cube=tuple(cfg.cube_size), size=cfg.input_size,
                                      band=pre.get("band", 150.0), refine=pre.get("refine", False),
                                      mode=pre.get("mode", "nearest"))
        opts = {}
        if args.dataset == "synthetic":
            opts = {"layout": cfg.skeleton, "camera": cfg.extra.get("camera", "icvl"),
                    **({"n": args.n} if args.n else {})}
        fold = args.fold if args.fold is not None else cfg.extra.get("train", {}).get("fold")
        if fold is not None:
            opts["fold"] = fold
        data = make_dataset(args.dataset, args.split, args.root, preprocess, **opts)
    except (CheckpointError, ValueError) as e:
        print(f"lfsdk-eval: {e}", file=sys.stderr)
        return 1
    report, pred = evaluate(model, data, args.batch_size, args.device)
    report["checkpoint"] = str(args.checkpoint)
    report["dataset"] = {"name": args.dataset, "split": args.split, "frames": len(data)}
    out = Path(args.out) if args.out else Path(args.checkpoint) / "eval"
    files = write_report(report, out, f"lfsdk-eval: {args.dataset} {args.split}", data, pred, cfg.skeleton)
    print((out / "eval.md").read_text())
    print("wrote " + ", ".join(str(f) for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
