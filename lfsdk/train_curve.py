"""The training curve against samples seen, and a power-law fit of held-out error to extrapolate a budget.

Under-trained networks follow err(n) ≈ a · n^b (b < 0) over a decade or two of samples n; a straight line
in log-log. `fit_power_law` fits it by least squares on log(err) vs log(n), and `samples_to_reach` inverts
it. A warm-started run continues the curve of the runs it started from: pass their logs, oldest first, as
`before` and their samples are counted first, each leg after the one before it.

    python -m lfsdk.train_curve runs/palm/log.jsonl --before runs/first/log.jsonl runs/second/log.jsonl \
        --target 8 --out training_curve.png
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

__all__ = ["read_log", "curve_points", "chained_points", "fit_power_law", "samples_to_reach", "plot_curve", "main"]


def read_log(path: str | Path) -> list[dict]:
    """lfsdk-train's log.jsonl as a list of records."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def curve_points(log: list[dict], batch_size: int = 32, offset: int = 0, key: str = "val_mm") -> np.ndarray:
    """(K, 2) (samples seen, error) of the records that have `key`; samples from the record's 'samples' or
    step × batch_size (older logs), plus `offset`."""
    pts = [(offset + r.get("samples", r["step"] * batch_size), r[key]) for r in log if r.get(key) is not None]
    return np.array(pts, dtype=float).reshape(-1, 2)


def chained_points(logs: list[list[dict]]) -> list[np.ndarray]:
    """Each leg's (K_i, 2) curve points, the samples of every leg counted after those of the legs before it
    (a warm-started leg's step 0 is where its predecessor ended)."""
    out, offset = [], 0
    for log in logs:
        pts = curve_points(log, offset=offset)
        out.append(pts)
        offset = int(pts[:, 0].max()) if len(pts) else offset
    return out


def fit_power_law(samples: np.ndarray, errors: np.ndarray) -> tuple[float, float]:
    """(K,) samples > 0, (K,) errors > 0 → (a, b) of err = a · samples^b, least squares in log-log."""
    samples, errors = np.asarray(samples, float), np.asarray(errors, float)
    if len(samples) < 2 or (samples <= 0).any() or (errors <= 0).any():
        raise ValueError(f"need ≥ 2 points with positive samples and errors, got {len(samples)}")
    b, log_a = np.polyfit(np.log(samples), np.log(errors), 1)
    return float(math.exp(log_a)), float(b)


def samples_to_reach(a: float, b: float, target: float) -> float:
    """Samples at which a · n^b = target; inf when the fit does not fall (b ≥ 0)."""
    if b >= 0:
        return math.inf
    return (target / a) ** (1.0 / b)


def plot_curve(series: dict[str, np.ndarray], fit: tuple[float, float] | None, target: float | None,
               out_png: str | Path) -> Path:
    """Held-out error vs samples seen (log-log), one line per series, with the fit extended to the target."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, pts in series.items():
        if len(pts):
            ax.plot(pts[:, 0], pts[:, 1], "o-", ms=3, label=name)
    if fit is not None:
        lo = min(p[p[:, 0] > 0, 0].min() for p in series.values() if (p[:, 0] > 0).any())  # log axis: n > 0
        hi = samples_to_reach(*fit, target) if target else max(p[:, 0].max() for p in series.values())
        hi = hi if math.isfinite(hi) else 10 * lo
        n = np.geomspace(lo, max(hi, lo * 1.01), 50)
        ax.plot(n, fit[0] * n ** fit[1], "k--", lw=1, label=f"fit {fit[0]:.3g}·n^{fit[1]:.2f}")
    if target:
        ax.axhline(target, color="gray", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="training samples seen", ylabel="held-out mean joint error (mm)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lfsdk.train_curve", description="Training curve vs samples and a "
                                "power-law fit of the held-out error.")
    p.add_argument("log", help="lfsdk-train log.jsonl")
    p.add_argument("--before", nargs="*", default=[], help="logs of the runs this one continues (warm-started "
                   "from), oldest first")
    p.add_argument("--fit-from", type=float, default=2e4, help="fit on points with at least this many samples")
    p.add_argument("--target", type=float, default=8.0, help="error (mm) whose sample count is extrapolated")
    p.add_argument("--out", default=None, help="PNG to write (default: none)")
    args = p.parse_args(argv)
    legs = chained_points([read_log(f) for f in [*args.before, args.log]])
    allp = np.concatenate(legs)
    sel = allp[allp[:, 0] >= args.fit_from]
    a, b = fit_power_law(sel[:, 0], sel[:, 1])
    result = {"fit_a": a, "fit_b": b, "fit_points": len(sel), "samples_seen": int(allp[:, 0].max()),
              "best_mm": float(allp[:, 1].min()), f"samples_to_{args.target:g}mm": samples_to_reach(a, b, args.target)}
    if args.out:
        series = {f"run {i + 1}" + (" (this one)" if i == len(legs) - 1 else ""): pts for i, pts in enumerate(legs)}
        plot_curve(series, (a, b), args.target, args.out)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
