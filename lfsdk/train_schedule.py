"""Learning-rate schedules sized to the planned run.

A run is planned in steps (epochs × steps per epoch, or --max-steps) and/or in minutes (--max-minutes, for a
time-boxed run on a shared machine). Its progress p ∈ [0, 1] is the larger of the two fractions used, so the
rate reaches its floor exactly when the run stops, whichever budget ends it. After an optional linear warm-up
over the first `warmup` fraction of the run:

    cosine: lr(p) = floor + (base − floor) · ½ (1 + cos(π q))     q = (p − warmup)/(1 − warmup)
    linear: lr(p) = base − (base − floor) · q
    step:   lr(p) = base · gamma^⌊p / every⌋                     (the paper's ÷10 every 30 of 100 epochs:
                                                                  every = 0.3 of the run, gamma = 0.1)
"""
from __future__ import annotations

import math

__all__ = ["SCHEDULES", "progress", "lr_at"]

SCHEDULES = ("cosine", "linear", "step")


def progress(step: int, total_steps: int | None, seconds: float, total_seconds: float | None) -> float:
    """Fraction of the planned run done: max(step/total_steps, seconds/total_seconds), clipped to [0, 1].
    A budget given as None does not count; with neither, the run has no planned end and p = 0."""
    fractions = [0.0]
    if total_steps:
        fractions.append(step / total_steps)
    if total_seconds:
        fractions.append(seconds / total_seconds)
    return min(1.0, max(fractions))


def lr_at(p: float, base: float, schedule: str = "cosine", warmup: float = 0.0, floor: float = 0.0,
          every: float = 0.3, gamma: float = 0.1) -> float:
    """Learning rate at progress p ∈ [0, 1] (see the module docstring for the formulas)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: expected one of {SCHEDULES}")
    if not 0.0 <= warmup < 1.0:
        raise ValueError(f"warmup must be a fraction of the run in [0, 1), got {warmup}")
    p = min(1.0, max(0.0, p))
    if p < warmup:
        return base * (p / warmup)
    if schedule == "step":
        if every <= 0:
            raise ValueError(f"step schedule needs every > 0 (a fraction of the run), got {every}")
        return base * gamma ** math.floor(p / every)
    q = (p - warmup) / (1.0 - warmup)
    if schedule == "linear":
        return base - (base - floor) * q
    return floor + (base - floor) * 0.5 * (1.0 + math.cos(math.pi * q))
