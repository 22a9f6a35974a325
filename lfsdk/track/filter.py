"""The One Euro filter (Casiez, Roussel & Vogel, CHI 2012), vectorised: one call filters every joint of
every tracked hand, each scalar with its own adaptive cutoff, at the frames' real timestamps.

For a sample x at time t after the previous filtered value x̂' at t' (te = t − t'):
    α(fc) = 1 / (1 + τ/te), τ = 1 / (2π fc)
    dx̂ = α(d_cutoff)·(x − x̂')/te + (1 − α(d_cutoff))·dx̂'       (the speed, low-passed)
    fc  = min_cutoff + beta·|dx̂|                              (faster motion → less smoothing, less lag)
    x̂  = α(fc)·x + (1 − α(fc))·x̂'
The first sample of a row passes through unchanged with dx̂ = 0. min_cutoff (Hz) sets the jitter left
when still, beta (1/mm here, as x is in mm) how quickly the lag goes when moving.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["OneEuroParams", "OneEuroState", "one_euro_step", "smoothing_factor", "OneEuroFilter"]


@dataclass(frozen=True)
class OneEuroParams:
    """min_cutoff Hz, beta per unit of x (1/mm for joints in mm), d_cutoff Hz of the speed's low-pass."""

    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0

    def __post_init__(self):
        for name in ("min_cutoff", "beta", "d_cutoff"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (v == 0 and name != "beta"):
                raise ValueError(f"One Euro {name} must be a finite number "
                                 f"{'≥ 0' if name == 'beta' else '> 0'}, got {v!r}")


class OneEuroState(NamedTuple):
    """Per row (e.g. per hand): the last filtered values (N, ...), their speed (N, ...), their time (N,) s."""

    x: np.ndarray
    dx: np.ndarray
    t: np.ndarray


def smoothing_factor(te: np.ndarray, cutoff: np.ndarray | float) -> np.ndarray:
    """α = 1 / (1 + τ/te) with τ = 1/(2π·cutoff); te and cutoff broadcast."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / te)


def one_euro_step(x: np.ndarray, t: np.ndarray, state: OneEuroState | None, params: OneEuroParams,
                  fresh: np.ndarray | None = None) -> tuple[np.ndarray, OneEuroState]:
    """Filter one sample per row: x (N, ...) at times t (N,) s, given the previous state (None: all rows new).

    fresh (N,) bool marks rows that start here (passed through). A row whose time did not advance
    (te ≤ 0) keeps its previous output. Returns (x̂ (N, ...) float64, the new state)."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if t.shape != x.shape[:1]:
        raise ValueError(f"one timestamp per row expected: x {x.shape}, t {t.shape}")
    if not (np.isfinite(x).all() and np.isfinite(t).all()):
        raise ValueError("One Euro input holds NaN or inf (filter only hands that were estimated)")
    new = np.ones(len(x), bool) if state is None else np.asarray(fresh if fresh is not None else
                                                                  np.zeros(len(x), bool), dtype=bool)
    if state is None:
        state = OneEuroState(x, np.zeros_like(x), t)
    elif state.x.shape != x.shape:
        raise ValueError(f"One Euro state holds {state.x.shape}, the sample is {x.shape}")
    te = t - state.t
    moved = ~new & (te > 0)
    te_b = np.where(moved, te, 1.0).reshape((-1,) + (1,) * (x.ndim - 1))
    dx = (x - state.x) / te_b
    dx_hat = state.dx + smoothing_factor(te_b, params.d_cutoff) * (dx - state.dx)
    cutoff = params.min_cutoff + params.beta * np.abs(dx_hat)
    x_hat = state.x + smoothing_factor(te_b, cutoff) * (x - state.x)
    m = moved.reshape(te_b.shape)
    n = new.reshape(te_b.shape)
    out = np.where(m, x_hat, np.where(n, x, state.x))
    out_dx = np.where(m, dx_hat, np.where(n, 0.0, state.dx))
    return out, OneEuroState(out, out_dx, np.where(moved | new, t, state.t))


class OneEuroFilter:
    """Stateful One Euro filter of arrays of a fixed shape (e.g. (M, 3) joints), called with timestamps.

        f = OneEuroFilter(min_cutoff=1.0, beta=0.01)
        smooth = f(joints, t)          # joints (M, 3), t seconds; f.reset() starts over
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0):
        self.params = OneEuroParams(min_cutoff, beta, d_cutoff)
        self._state: OneEuroState | None = None

    def reset(self) -> None:
        self._state = None

    def __call__(self, x, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._state is not None and float(t) <= float(self._state.t[0]):
            raise ValueError(f"timestamps must increase: got {t} after {float(self._state.t[0])}")
        out, self._state = one_euro_step(x[None], np.array([t], dtype=np.float64), self._state, self.params)
        return out[0]
