"""The shipped models side by side on the CPU: end-to-end speed (depth frames in, joints out) and error.

    OMP_NUM_THREADS=1 python benchmarks/bench_models.py [--lite runs/lite/best] [--frames 256] [--rounds 15]

Both models run through HandPoseEstimator on the same held-out rendered frames (the test seed of
lfsdk-eval, 240x320 uint16, 30 % with background clutter), on each CPU backend and precision that runs
here, at batch 1 and 32. Speed: the calls are interleaved round by round (default, lite, default, …) so the
load of a shared machine hits both alike; each cell is the median ms per frame over the rounds, and the
ratio default/lite is what the README quotes. FP32 rows are what `auto` runs on a CPU without native BF16,
the lite model's target. Error: mean joint error (mm) of the single call `est(depth)` on all the frames,
per backend. Writes benchmarks/results/<date>-models.{json,md}.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from lfsdk import HandPoseEstimator
from lfsdk.cpu import cpu_description, cpu_has_native_bf16
from lfsdk.data.dataset import SYNTHETIC_SEEDS, synthetic_frames
from lfsdk.pretrained import model_path

RESULTS = Path(__file__).parent / "results"
BATCHES = (1, 32)


def variants() -> list[tuple[str, str]]:
    """(backend, precision) pairs that run on this CPU: FP32 everywhere, BF16 where the CPU has it natively."""
    out = [("onnxruntime", "fp32"), ("openvino", "fp32")]
    if cpu_has_native_bf16():
        out.append(("openvino", "bf16"))
    return out


def mean_error(est: HandPoseEstimator, depth: np.ndarray, truth: np.ndarray, batch: int = 32) -> tuple[float, float]:
    """(mean joint error mm over found hands, share of frames found) of est on (N, H, W) frames."""
    xyz = np.concatenate([est(depth[i:i + batch]).joints_xyz.float().numpy() for i in range(0, len(depth), batch)])
    err = np.linalg.norm(xyz - truth, axis=-1).mean(axis=1)
    found = np.isfinite(err)
    return float(err[found].mean()), float(found.mean())


def time_interleaved(ests: dict[str, HandPoseEstimator], depth: np.ndarray, batch: int, rounds: int) -> dict[str, float]:
    """Median ms per frame of each estimator at `batch`, the estimators called in turn every round."""
    x = torch.from_numpy(depth[:batch].astype(np.int32)).to(torch.uint16)
    for est in ests.values():  # warm-up: first-call compilation and allocations are not what we time
        est(x), est(x)
    times: dict[str, list[float]] = {k: [] for k in ests}
    reps = max(1, 32 // batch)
    for _ in range(rounds):
        for k, est in ests.items():
            t0 = time.perf_counter()
            for _ in range(reps):
                est(x)
            times[k].append((time.perf_counter() - t0) * 1e3 / (reps * batch))
    return {k: statistics.median(v) for k, v in times.items()}


def run(models: dict[str, str], frames: int, rounds: int) -> dict:
    torch.set_num_threads(1)
    probe = HandPoseEstimator(models["default"], backend="torch")
    data = synthetic_frames(frames, SYNTHETIC_SEEDS["test"], probe.camera, probe.config.skeleton)
    depth, truth = data["depth"], data["joints_xyz"]
    rows = []
    for backend, precision in variants():
        ests = {k: HandPoseEstimator(p, backend=backend, precision=precision, threads=1) for k, p in models.items()}
        row = {"backend": backend, "precision": precision, "error_mm": {}, "found": {}, "ms_per_frame": {}}
        for k, est in ests.items():
            row["error_mm"][k], row["found"][k] = mean_error(est, depth, truth)
        for b in BATCHES:
            ms = time_interleaved(ests, depth, b, rounds)
            row["ms_per_frame"][str(b)] = {**ms, "speedup": ms["default"] / ms["lite"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_description(),
            "threads": 1, "models": models, "frames": frames, "rounds": rounds, "rows": rows}


def markdown(report: dict) -> str:
    lines = [f"# Shipped models side by side, {report['date'][:10]}", "",
             f"`OMP_NUM_THREADS=1 python benchmarks/bench_models.py` on {report['cpu']}, one thread; "
             f"{report['frames']} held-out rendered frames (test seed), speed interleaved over "
             f"{report['rounds']} rounds (median ms per frame, end to end: depth in, joints out).", "",
             "| backend | precision | default error | lite error | b1 default | b1 lite | b1 speed-up "
             "| b32 default | b32 lite | b32 speed-up |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        b1, b32 = r["ms_per_frame"]["1"], r["ms_per_frame"]["32"]
        lines.append(f"| {r['backend']} | {r['precision']} | {r['error_mm']['default']:.2f} mm "
                     f"| {r['error_mm']['lite']:.2f} mm | {b1['default']:.2f} ms | {b1['lite']:.2f} ms "
                     f"| {b1['speedup']:.2f}x | {b32['default']:.2f} ms | {b32['lite']:.2f} ms | {b32['speedup']:.2f}x |")
    lines += ["", f"Models: {report['models']}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--default", default=str(model_path("default")), help="the full model (default: shipped)")
    ap.add_argument("--lite", default=str(model_path("lite")), help="the lite model (default: shipped)")
    ap.add_argument("--frames", type=int, default=256, help="held-out frames for the error (default 256)")
    ap.add_argument("--rounds", type=int, default=15, help="timing rounds per batch (default 15)")
    ap.add_argument("-o", "--out", default=None, help="output stem (default: results/<date>-models)")
    args = ap.parse_args(argv)
    report = run({"default": args.default, "lite": args.lite}, args.frames, args.rounds)
    stem = Path(args.out) if args.out else RESULTS / f"{report['date'][:10]}-models"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1))
    stem.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
