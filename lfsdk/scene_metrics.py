"""Scene benchmark metrics: pair reported hands with true ones and score each scene class (pure NumPy).

A true hand is found when a reported hand paired with it has a mean joint error ≤ FOUND_MM; pairs minimise
the summed error per frame (at most a few hands a frame, so every pairing is tried).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from lfsdk.data.scenes import HAND_CLASSES, NO_HAND_CLASSES, SCENE_CLASSES, SceneBatch

__all__ = ["FOUND_MM", "Detections", "match_hands", "scene_metrics"]

#: a true hand counts as found when a reported hand's mean joint error to it is at most this (mm)
FOUND_MM = 25.0


@dataclass(frozen=True)
class Detections:
    """What an estimator reported on N frames, K hand slots each (NumPy)."""

    joints_xyz: np.ndarray  # (N, K, M, 3) mm, NaN where nothing was reported
    found: np.ndarray  # (N, K) bool
    score: np.ndarray  # (N, K) float, NaN when the call gives no score
    boxes: np.ndarray  # (N, K, 4) crop boxes (u0, v0, u1, v1) px
    side: np.ndarray  # (N, K) 'left', 'right' or '' (not said)
    mode: str  # 'single' or 'multi'


def match_hands(pred_xyz: np.ndarray, pred_found: np.ndarray, true_xyz: np.ndarray,
                num_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair reported hands with true hands per frame, minimising the summed mean joint error.

    pred_xyz (N, K, M, 3), pred_found (N, K), true_xyz (N, T, M, 3), num_true (N,) → (error (N, T) mm of each
    true hand's partner, NaN when it has none; partner (N, T) slot index, −1 when none)."""
    n, t = true_xyz.shape[:2]
    err = np.full((n, t), np.nan)
    partner = np.full((n, t), -1, np.int64)
    cost = np.linalg.norm(pred_xyz[:, None] - true_xyz[:, :, None], axis=-1).mean(-1)  # (N, T, K)
    for i in range(n):
        preds = np.flatnonzero(pred_found[i])
        trues = np.arange(int(num_true[i]))
        m = min(len(preds), len(trues))
        if m == 0:
            continue
        best = min(((sum(cost[i, a, b] for a, b in zip(ts, ps)), ts, ps)
                    for ts in itertools.permutations(trues, m) for ps in itertools.combinations(preds, m)),
                   key=lambda c: c[0])
        for a, b in zip(best[1], best[2]):
            err[i, a], partner[i, a] = cost[i, a, b], b
    return err, partner


def _class_metrics(sel: np.ndarray, batch: SceneBatch, det: Detections, err: np.ndarray, partner: np.ndarray,
                   oracle: np.ndarray, threshold: float) -> dict:
    """Metrics over the frames `sel` (N,) bool; see scene_metrics."""
    hands = np.arange(err.shape[1])[None] < batch.num_hands[:, None]  # (N, T) true hand slots
    hands &= sel[:, None]
    ok = hands & (err <= threshold)
    matched = hands & (partner >= 0)
    good = np.zeros(det.found.shape, bool)  # reported hands that match a true hand within the threshold
    fi, ti = np.nonzero(ok)
    good[fi, partner[fi, ti]] = True
    extra = (det.found & ~good).any(1) & sel
    side = np.take_along_axis(det.side, np.maximum(partner, 0), 1)
    judged = ok & (side != "")
    frames, n_hands = int(sel.sum()), int(hands.sum())
    mean = lambda x: float(np.mean(x)) if len(x) else None  # noqa: E731
    return {
        "frames": frames, "hands": n_hands,
        "detection_rate": float(ok.sum() / n_hands) if n_hands else None,
        "oracle_detection_rate": float((oracle[hands] <= threshold).mean()) if n_hands else None,
        "all_found_rate": float((ok.sum(1) == batch.num_hands)[sel].mean()) if n_hands else None,
        "false_positive_rate": float(extra.sum() / frames) if frames else None,
        "reported_per_frame": float(det.found[sel].sum() / frames) if frames else None,
        "e2e_mean_mm": mean(err[matched]), "e2e_median_mm": float(np.median(err[matched])) if matched.any() else None,
        "oracle_mean_mm": mean(oracle[matched]), "oracle_all_mean_mm": mean(oracle[hands]),
        "matched_hands": int(matched.sum()),
        "handedness_accuracy": float((side == batch.handedness)[judged].mean()) if judged.any() else None,
        "handedness_judged": int(judged.sum()),
    }


def scene_metrics(batch: SceneBatch, det: Detections, oracle: np.ndarray, threshold: float = FOUND_MM) -> dict:
    """Per scene class and for all hand / no-hand frames: frames, hands, detection_rate (true hands found
    within `threshold` mm), oracle_detection_rate (true hands the model gets within it when cropped at the
    true palm: what a perfect localisation would find), all_found_rate (frames with every hand found), false_positive_rate (frames with
    a reported hand that matches no true hand within the threshold), reported_per_frame, e2e_mean_mm and
    e2e_median_mm (true hands with a reported partner), oracle_mean_mm (the same hands), oracle_all_mean_mm
    (every true hand), handedness_accuracy (found hands whose side was said)."""
    err, partner = match_hands(det.joints_xyz, det.found, batch.joints_xyz, batch.num_hands)
    cls = batch.scene_class
    out = {c: _class_metrics(cls == c, batch, det, err, partner, oracle, threshold)
           for c in SCENE_CLASSES if (cls == c).any()}
    for name, group in (("all hand classes", HAND_CLASSES), ("all no-hand classes", NO_HAND_CLASSES)):
        sel = np.isin(cls, group)
        if sel.any():
            out[name] = _class_metrics(sel, batch, det, err, partner, oracle, threshold)
    return out
