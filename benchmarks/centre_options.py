"""Where to crop a hand candidate: error vs cost of the first-crop and re-crop rules of lfsdk.hands.

    python benchmarks/centre_options.py --n 30 --classes arm_torso
    python benchmarks/centre_options.py --n 60 --classes lone_hand,two_hands,border,artefacts,desk

On validation scenes (lfsdk.data.scenes, seed SCENE_SEEDS['val']) with the shipped model: per true hand the
error of the candidate nearest it, estimated on the hand's true side (so handedness and the score do not
enter), for each rule; and the wall-clock time per frame of the whole candidate pipeline (CPU, one thread).
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from lfsdk import HandPoseEstimator
from lfsdk.data.scenes import SCENE_SEEDS, render_scenes
from lfsdk.hands import estimate_candidates, layout_of, scorer_for
from lfsdk.kernels import backproject
from lfsdk.localize import LocalizeConfig

RULES = {"band + sphere": ("band", "sphere"), "nearest + sphere": ("nearest", "sphere"), "auto + sphere": ("auto", "sphere"),
         "nearest + none": ("nearest", "none"), "nearest + palm": ("nearest", "palm"), "band + none": ("band", "none")}


def hand_errors(e, sb, crop, camera) -> np.ndarray:
    """Per true hand: mean joint error (mm) of the candidate nearest it, on the hand's true side."""
    fr = e.cands.frame.numpy()
    xyz = [backproject(o.joints, e.center_uvd, crop.cube, camera)[1].numpy() for o in e.out]
    out = []
    for i in range(len(sb)):
        for k in range(sb.num_hands[i]):
            side = xyz[int(sb.handedness[i, k] == "left")]
            errs = [np.linalg.norm(side[j] - sb.joints_xyz[i, k], axis=-1).mean() for j in np.nonzero(fr == i)[0]]
            out.append(min(errs) if errs else np.nan)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--classes", default="arm_torso")
    ap.add_argument("--backend", default="onnxruntime")
    a = ap.parse_args()
    torch.set_num_threads(1)
    est = HandPoseEstimator.from_pretrained(backend=a.backend)
    sb = render_scenes(a.n, SCENE_SEEDS["val"], tuple(a.classes.split(",")), est.camera, est.config.skeleton)
    run = lambda c: est._network(c, torch.ones(len(c), dtype=torch.bool))  # noqa: E731
    crop = est.preprocessing
    base, layout = scorer_for(est.model_path), layout_of(est.config.skeleton, est.config.num_joints)
    depth = torch.from_numpy(sb.depth.astype(np.int32))
    print(f"{a.n} scenes ({a.classes}), seed {SCENE_SEEDS['val']}, backend {est.backend.describe()}")
    print("| first crop + re-crop | mean mm | median mm | ≤ 25 mm | ms/frame |\n|---|---|---|---|---|")
    for name, (start, recenter) in RULES.items():
        sc = dataclasses.replace(base, start=start, recenter=recenter)
        t = time.perf_counter()
        e = estimate_candidates(depth, est.camera, run, crop, sc, layout, 3, LocalizeConfig())
        ms = (time.perf_counter() - t) * 1000 / a.n
        err = hand_errors(e, sb, crop, est.camera)
        print(f"| {name} | {np.nanmean(err):.1f} | {np.nanmedian(err):.1f} | {np.mean(err <= 25):.0%} | {ms:.0f} |")


if __name__ == "__main__":
    main()
