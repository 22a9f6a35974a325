"""Tracking quality measures (pure NumPy), as the tracking benchmark reports them.

- match_frame: tracked hands ↔ true hands by mean joint distance (Hungarian, gated);
- count_tracking: CLEAR-MOT style id switches (a true hand's matched id changes), frames lost (a visible
  true hand with no tracked hand), false hands (a tracked hand matching no true hand);
- jitter: mean frame-to-frame joint acceleration |x[t+1] − 2x[t] + x[t−1]| (mm per frame²);
- step_lag: frames after a step until a trace covers `fraction` of the step.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["match_frame", "count_tracking", "jitter", "step_lag"]


def match_frame(tracked: Sequence[np.ndarray], truth: Sequence[np.ndarray], gate_mm: float) -> dict[int, int]:
    """tracked K joint arrays (M, 3), truth G arrays (M, 3) → {truth index: tracked index} for the pairs
    whose mean joint distance is ≤ gate_mm, minimising the total distance."""
    if not len(tracked) or not len(truth):
        return {}
    cost = np.array([[np.linalg.norm(np.asarray(t) - np.asarray(g), axis=-1).mean() for t in tracked]
                     for g in truth])
    cost = np.where(np.isfinite(cost), cost, np.inf)
    rows, cols = linear_sum_assignment(np.where(cost <= gate_mm, cost, 1e9))
    return {int(r): int(c) for r, c in zip(rows, cols) if cost[r, c] <= gate_mm}


def count_tracking(ids: Sequence[Sequence[int]], joints: Sequence[Sequence[np.ndarray]],
                   truth: Sequence[Sequence[np.ndarray]], visible: Sequence[Sequence[bool]],
                   gate_mm: float = 60.0) -> dict[str, int]:
    """Per frame: the tracked ids and joints, the true joints and visibility of every true hand.
    Returns id_switches, frames_lost (visible true hands unmatched), false_hands, matched, visible."""
    last: dict[int, int] = {}
    out = {"id_switches": 0, "frames_lost": 0, "false_hands": 0, "matched": 0, "visible": 0}
    for f_ids, f_joints, f_truth, f_vis in zip(ids, joints, truth, visible):
        m = match_frame(f_joints, f_truth, gate_mm)
        out["false_hands"] += len(f_joints) - len(m)
        for g, vis in enumerate(f_vis):
            out["visible"] += bool(vis)
            if g not in m:
                out["frames_lost"] += bool(vis)
                continue
            out["matched"] += 1
            tid = f_ids[m[g]]
            if g in last and last[g] != tid:
                out["id_switches"] += 1
            last[g] = tid
    return out


def jitter(x: np.ndarray) -> float:
    """x (T, ..., 3) positions over T ≥ 3 frames → mean |second difference| over frames and points."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] < 3 or x.shape[-1] != 3:
        raise ValueError(f"jitter needs (T ≥ 3, ..., 3) positions, got shape {x.shape}")
    acc = x[2:] - 2 * x[1:-1] + x[:-2]
    return float(np.linalg.norm(acc, axis=-1).mean())


def step_lag(trace: np.ndarray, step_index: int, before: float, after: float, fraction: float = 0.9) -> int:
    """trace (T,) a scalar position, a step from `before` to `after` at frame step_index → the number of
    frames after step_index until the trace first covers `fraction` of the step (T − step_index if never)."""
    trace = np.asarray(trace, dtype=np.float64)
    if not 0 <= step_index < len(trace):
        raise ValueError(f"step_index {step_index} outside a trace of {len(trace)} frames")
    if after == before:
        raise ValueError("a step needs after ≠ before")
    covered = (trace[step_index:] - before) / (after - before)
    hit = np.nonzero(covered >= fraction)[0]
    return int(hit[0]) if len(hit) else len(trace) - step_index
