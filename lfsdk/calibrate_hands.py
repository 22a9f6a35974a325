"""Fit a model's hand score and handedness on rendered scenes, and write them beside it as hands.json.

    python -m lfsdk.calibrate_hands --model DIR            # writes DIR/hands.json (seeded, deterministic)

Renders `--scenes` frames of every scene class (lfsdk.data.scenes, seed `--seed`), runs find_hands' candidate
pipeline on them with the model, labels each candidate a hand when its final crop centre lies within
`--match` mm of a true palm (and with that hand's side), fits two logistic regressions (lfsdk.localize.score)
on the first 70 % of the frames and reports calibration on the other 30 %. Re-run it after retraining.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .data.scenes import SCENE_SEEDS, render_scenes
from .estimator import HandPoseEstimator
from .hands import SCORER_FILE, estimate_candidates, layout_of, scorer_for
from .localize import BLOB_FEATURES, LocalizeConfig
from .localize.ball import BALL_FEATURES
from .localize.fit_features import FIT_FEATURES
from .localize.score import HAND_FEATURES, HandScorer, fit_logistic

__all__ = ["collect", "fit_scorer", "main"]


def collect(est: HandPoseEstimator, scorer: HandScorer, n: int, seed: int, match: float, batch: int = 16,
            candidates: int = 3) -> dict[str, np.ndarray]:
    """Per candidate of n rendered scenes: features, hand label, side label, frame and scene class."""
    cfg, crop = LocalizeConfig(), est.preprocessing
    layout = layout_of(est.config.skeleton, est.config.num_joints)
    run = lambda c: est._network(c, torch.ones(len(c), dtype=torch.bool, device=c.device))  # noqa: E731
    rows: dict[str, list] = {k: [] for k in ("right_fit", "left_fit", "blob", "shape", "hand", "left", "frame", "cls")}
    sb = render_scenes(n, seed, camera=est.camera, layout=est.config.skeleton)
    for start in range(0, n, batch):
        d = torch.from_numpy(sb.depth[start:start + batch].astype(np.int32)).to(est.device)
        e = estimate_candidates(d, est.camera, run, crop, scorer, layout, candidates, cfg)
        fr = e.cands.frame.cpu().numpy() + start
        centre = _xyz(e.center_uvd.cpu().numpy(), est.camera)
        dist = np.nan_to_num(np.linalg.norm(sb.palm_xyz[fr] - centre[:, None], axis=-1), nan=np.inf)  # (K, 2)
        rows["right_fit"].append(e.fits[0].cpu().numpy())
        rows["left_fit"].append(e.fits[1].cpu().numpy())
        rows["blob"].append(e.cands.features.cpu().numpy())
        rows["shape"].append(e.shape.cpu().numpy())
        rows["hand"].append(dist.min(1) <= match)
        rows["left"].append(sb.handedness[fr, dist.argmin(1)] == "left")
        rows["frame"].append(fr)
        rows["cls"].append(sb.scene_class[fr])
    return {k: np.concatenate(v) for k, v in rows.items()}


def _xyz(uvd: np.ndarray, cam) -> np.ndarray:
    return np.stack(((uvd[:, 0] - cam.cx) * uvd[:, 2] / cam.fx, (uvd[:, 1] - cam.cy) * uvd[:, 2] / cam.fy,
                     uvd[:, 2]), -1)


def _hand_table(data: dict, side: np.ndarray) -> dict[str, torch.Tensor]:
    """Feature columns by name with each candidate's fit taken on the given side (bool left per row)."""
    fit = np.where(side[:, None], data["left_fit"], data["right_fit"])
    cols = {n: data["blob"][:, i] for i, n in enumerate(BLOB_FEATURES)}
    cols.update({n: data["shape"][:, i] for i, n in enumerate(BALL_FEATURES)})
    cols.update({n: fit[:, i] for i, n in enumerate(FIT_FEATURES)})
    return {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in cols.items()}


def fit_scorer(data: dict, base: HandScorer, train: np.ndarray) -> tuple[HandScorer, dict]:
    """Fit side and hand models on the rows in `train`; report accuracy / log-loss / ECE on the rest."""
    diff = torch.from_numpy(data["right_fit"] - data["left_fit"]).double()
    names = tuple(f"{f}_diff" for f in FIT_FEATURES)
    pos = data["hand"]
    # a crop mirrored is the same hand with the other side: each sample also counts mirrored (−diff, other
    # side), so the fitted rule is odd in the difference and has no preference for either side
    rows, left = diff[train & pos], torch.from_numpy(data["left"][train & pos])
    side = fit_logistic(torch.cat((rows, -rows)), torch.cat((left, ~left)), names)
    p_left = side({n: diff[:, i] for i, n in enumerate(names)}).numpy()
    table = _hand_table(data, p_left > 0.5)
    x = torch.stack([table[n] for n in HAND_FEATURES], -1)
    hand = fit_logistic(x[train], torch.from_numpy(pos[train]), HAND_FEATURES)
    p = hand(table).numpy()
    test, two = ~train, data["cls"] == "two_hands"  # the class with left hands: as many left as right
    report = {"candidates": int(len(pos)), "hands": int(pos.sum()), "test_candidates": int(test.sum()),
              "hand_accuracy": float(((p > 0.5) == pos)[test].mean()),
              "hand_log_loss": float(_log_loss(p[test], pos[test])), "hand_ece": float(_ece(p[test], pos[test])),
              "side_accuracy": float(((p_left > 0.5) == data["left"])[test & pos].mean()),
              "side_accuracy_two_hands": float(((p_left > 0.5) == data["left"])[test & pos & two].mean())}
    return replace(base, hand=hand, side=side), report


def _log_loss(p, y):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def _ece(p, y, bins: int = 10) -> float:
    """Expected calibration error: mean |confidence − frequency| over 10 equal-width bins, weighted."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[idx == b].mean() - y[idx == b].mean()) * (idx == b).mean()
                     for b in range(bins) if (idx == b).any()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lfsdk.calibrate_hands", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint directory (or model file) to calibrate")
    ap.add_argument("--backend", default="auto", help="backend to run the network with (default auto)")
    ap.add_argument("--scenes", type=int, default=400, help="rendered frames, all classes in turn (default 400)")
    ap.add_argument("--seed", type=int, default=SCENE_SEEDS["train"], help="scene seed (default: the training one)")
    ap.add_argument("--match", type=float, default=60.0, help="a candidate is a hand within this many mm of a palm")
    ap.add_argument("--recenter", choices=("none", "palm", "sphere"), default=None,
                    help="second-crop rule (default: the model's current one)")
    ap.add_argument("--start", choices=("band", "nearest", "auto"), default=None,
                    help="first-crop rule (default: the model's current one)")
    ap.add_argument("--out", default=None, help=f"output JSON (default: {SCORER_FILE} beside the model)")
    ap.add_argument("--torch-threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(a.torch_threads)
    est = HandPoseEstimator(a.model, backend=a.backend)
    base = scorer_for(a.model)
    base = replace(base, recenter=a.recenter or base.recenter, start=a.start or base.start)
    data = collect(est, base, a.scenes, a.seed, a.match)
    train = data["frame"] < int(0.7 * a.scenes)
    scorer, report = fit_scorer(data, base, train)
    report.update(model=str(a.model), scenes=a.scenes, seed=a.seed, match_mm=a.match, recenter=scorer.recenter,
                  start=scorer.start)
    scorer = replace(scorer, info=report)
    model = Path(a.model)
    out = Path(a.out) if a.out else (model if model.is_dir() else model.parent) / SCORER_FILE
    scorer.save(out)
    print(json.dumps(report, indent=1))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
