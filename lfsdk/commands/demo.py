"""`lfsdk demo`: a shipped model on the sample frames shipped in the package — joints, stage times and an
overlay picture."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from ..pretrained import sample_frames
from .common import add_backend_arguments, add_model_argument, joint_names, make_estimator

__all__ = ["HELP", "add_arguments", "run", "montage"]

HELP = "run a shipped model (--model; default: auto) on the sample frames shipped in the package: joints, stage times, an overlay PNG"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default=None,
                   help="write the overlay picture of the sample frames here (default: none written)")
    p.add_argument("--iters", type=int, default=50, help="profiling iterations (default 50)")
    add_model_argument(p)
    add_backend_arguments(p)


def montage(images: list[np.ndarray], cols: int = 4) -> np.ndarray:
    """(H_i, W_i, 3) images → one grid picture, `cols` per row, cells the size of the largest, black around."""
    h, w = max(i.shape[0] for i in images), max(i.shape[1] for i in images)
    rows = -(-len(images) // cols)
    cols = min(cols, len(images))
    out = np.zeros((rows * h, cols * w, 3), np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        out[r * h:r * h + img.shape[0], c * w:c * w + img.shape[1]] = img
    return out


def run(args: argparse.Namespace) -> int:
    if args.iters < 1:
        raise ValueError(f"--iters must be ≥ 1, got {args.iters}")
    samples = sample_frames()
    est = make_estimator(args, camera=samples[0].camera)
    print(f"model {est.model_path}\n{est}")
    # one call per frame size (the shipped samples share one); results kept in sample order
    results = [est(s.depth) for s in samples]
    names = joint_names(est.config.skeleton, est.config.num_joints)
    found = sum(bool(r.found[0]) for r in results)
    print(f"\n{len(samples)} sample frames ({', '.join(s.name for s in samples)}), hand found in {found}")
    errs = [np.linalg.norm(r.to_numpy().joints_xyz[0] - s.joints_xyz, axis=-1).mean()
            for r, s in zip(results, samples) if s.joints_xyz.shape == (est.config.num_joints, 3)]
    if errs:
        print(f"mean joint error against the frames' true joints: {np.nanmean(errs):.1f} mm "
              f"(per frame: {', '.join(f'{e:.1f}' for e in errs)})")
    r0 = results[0].to_numpy()
    print(f"\nframe 0 joints (camera mm), fusion weights {np.round(r0.fusion_weights[0], 3).tolist()}")
    print(f"  {'joint':<14}{'x':>9}{'y':>9}{'z':>9}")
    for name, (x, y, z) in zip(names, r0.joints_xyz[0]):
        print(f"  {name:<14}{x:9.1f}{y:9.1f}{z:9.1f}")
    print(f"\nper-stage time, batch 1 ({args.iters} iterations)")
    print(est.profile(samples[0].depth, iters=args.iters))
    if args.output is None:
        print("\n(pass -o overlay.png to save the overlay of the frames)")
        return 0
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(montage([r.draw(0) for r in results])).save(out)
    print(f"\noverlay of {len(results)} frames → {out}")
    return 0
