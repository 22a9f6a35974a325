"""The hand score and handedness: two small logistic regressions on candidate features, kept as plain JSON.

    scorer = HandScorer.load("hands.json")
    p_hand = scorer.hand_probability(features)         # features: {name: (K,) tensor}
    p_left = scorer.left_probability(right_fit, left_fit)

`fit_logistic` fits one (standardised features, L2, L-BFGS, deterministic); lfsdk.calibrate_hands renders
scenes, collects the features and writes the JSON for a model.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Mapping

import torch

from .ball import BALL_FEATURES
from .fit_features import FIT_FEATURES

__all__ = ["HAND_FEATURES", "HandScorer", "Logistic", "fit_logistic"]

#: the hand score's inputs: the region's size and flatness, the shape of its pixels in the ball around the
#: final centre (the arm beyond the wrist left out), and how well the chosen side's skeleton fits the crop
HAND_FEATURES = ("log_area", "spread_minor", "border") + BALL_FEATURES + FIT_FEATURES
RECENTER = ("none", "palm", "sphere")
START = ("band", "nearest", "auto")


@dataclass(frozen=True)
class Logistic:
    """p = σ(b + Σ w_i (x_i − mean_i) / std_i) over the named features."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def __post_init__(self):
        n = len(self.features)
        if not (len(self.mean) == len(self.std) == len(self.weights) == n):
            raise ValueError(f"Logistic: {n} features need as many means, stds and weights, got "
                             f"{len(self.mean)}, {len(self.std)}, {len(self.weights)}")
        vals = (*self.mean, *self.std, *self.weights, self.bias)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals) or min(self.std, default=1) <= 0:
            raise ValueError("Logistic: means, weights and bias must be finite numbers and stds > 0")

    def __call__(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """{name: (K,) tensor} → (K,) probabilities."""
        missing = [f for f in self.features if f not in x]
        if missing:
            raise KeyError(f"features {missing} missing: have {sorted(x)}")
        cols = torch.stack([x[f].float() for f in self.features], -1)
        like = cols.new_tensor
        z = ((cols - like(self.mean)) / like(self.std)) @ like(self.weights) + self.bias
        return torch.sigmoid(z)


def fit_logistic(x: torch.Tensor, y: torch.Tensor, names: tuple[str, ...], l2: float = 1e-3) -> Logistic:
    """Fit on x (N, F) float, y (N,) {0, 1} by minimising mean log-loss + l2·|w|² (L-BFGS, float64)."""
    if x.dim() != 2 or x.shape[1] != len(names) or y.shape != x.shape[:1]:
        raise ValueError(f"need x (N, {len(names)}) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}")
    if len(torch.unique(y)) < 2:
        raise ValueError("fit_logistic needs both classes among the samples")
    x, y = x.double(), y.double()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    w = torch.zeros(x.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def loss():
        opt.zero_grad()
        val = torch.nn.functional.binary_cross_entropy_with_logits(z @ w[1:] + w[0], y) + l2 * (w[1:] ** 2).sum()
        val.backward()
        return val

    opt.step(loss)
    w = w.detach()
    return Logistic(tuple(names), tuple(mean.tolist()), tuple(std.tolist()), tuple(w[1:].tolist()), float(w[0]))


def _default_hand() -> Logistic:
    """Size limits only, before a fit: neutral weights, a bias that says 'probably a hand'."""
    n = len(HAND_FEATURES)
    return Logistic(HAND_FEATURES, (0.0,) * n, (1.0,) * n, (0.0,) * n, 2.0)


def _default_side() -> Logistic:
    names = tuple(f"{f}_diff" for f in FIT_FEATURES)
    return Logistic(names, (0.0,) * len(names), (1.0,) * len(names), (0.0,) * len(names), -2.0)


@dataclass(frozen=True)
class HandScorer:
    """What find_hands needs beyond the network: the hand score, handedness and the re-centring rule.

    start: where the first crop goes: 'band' (the centre of mass of the candidate's near band, the training
    rule, which slides down an arm), 'nearest' (mean shift in a ball of `radius` mm from its nearest pixel)
    or 'auto' (the band's unless the two are more than radius/2 apart).
    recenter: 'none' (no second crop), 'palm' (re-crop around the network's palm joint) or 'sphere' (re-crop
    at the centre of mass of the candidate's pixels within `radius` mm of that palm, which matches the
    training crops of a lone hand better than the palm itself)."""

    hand: Logistic = field(default_factory=_default_hand)
    side: Logistic = field(default_factory=_default_side)
    recenter: str = "sphere"
    start: str = "nearest"  # first crop: 'band' (the training rule) or 'nearest' (mean shift from the nearest pixel)
    radius: float = 120.0
    threshold: float = 0.5
    info: dict = field(default_factory=dict)  # how it was fitted (model, scenes, seed, figures)

    def __post_init__(self):
        if self.recenter not in RECENTER:
            raise ValueError(f"recenter must be one of {RECENTER}, got {self.recenter!r}")
        if self.start not in START:
            raise ValueError(f"start must be one of {START}, got {self.start!r}")
        if not (self.radius > 0 and 0 <= self.threshold <= 1):
            raise ValueError(f"need radius > 0 mm and 0 ≤ threshold ≤ 1, got {self.radius}, {self.threshold}")

    def hand_probability(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.hand(features)

    def left_probability(self, right_fit: torch.Tensor, left_fit: torch.Tensor) -> torch.Tensor:
        """(K, len(FIT_FEATURES)) fits of the crop as it is and mirrored → (K,) probability of a left hand."""
        diff = right_fit - left_fit
        return self.side({f"{f}_diff": diff[:, i] for i, f in enumerate(FIT_FEATURES)})

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "w") as f:
            f.write(self.to_json() + "\n")

    @classmethod
    def from_dict(cls, d: Mapping) -> "HandScorer":
        try:
            return cls(hand=Logistic(**_tuples(d["hand"])), side=Logistic(**_tuples(d["side"])),
                       recenter=d.get("recenter", "sphere"), start=d.get("start", "nearest"),
                       radius=float(d.get("radius", 120.0)),
                       threshold=float(d.get("threshold", 0.5)), info=dict(d.get("info", {})))
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a hand scorer: {e}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "HandScorer":
        with open(path) as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: not JSON ({e})") from None
        return cls.from_dict(d)


def _tuples(d: Mapping) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}

