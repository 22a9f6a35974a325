"""Cost of the tracker's two detectors on the same frames, interleaved in one run (ratios hold under load).

    OMP_NUM_THREADS=1 python benchmarks/bench_track_detectors.py [--frames 30] [--seed 3]

On the two-hand crossing sequence: per frame, detect (max_hands=2) and refine (at the two centres
find_hands detected in that frame) with FindHandsDetector (find_hands / hands_at: calibrated score and
side) and with EstimatorDetector (the single-hand call: area-share score, no side). Writes
benchmarks/results/<date>-track-detectors.{json,md}.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import lfsdk
from lfsdk.sources import SyntheticSequence
from lfsdk.track import EstimatorDetector, FindHandsDetector

RESULTS = Path(__file__).parent / "results"


def _ms(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1e3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--backend", default="onnxruntime")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    est = lfsdk.HandPoseEstimator.from_pretrained(backend=args.backend, camera="icvl")
    seq = SyntheticSequence("crossing", args.frames, seed=args.seed)
    dets = {"find_hands": FindHandsDetector(est), "estimator": EstimatorDetector(est)}
    ms = {f"{n}_{op}": [] for n in dets for op in ("detect", "refine")}
    depth0, _ = seq.render(0)
    for d in dets.values():  # warm up
        d.refine(depth0, seq.camera, np.array([h.centre_uvd for h in d.detect(depth0, seq.camera, 2)]))
    for i in range(len(seq)):
        depth, _ = seq.render(i)
        centres = np.array([h.centre_uvd for h in dets["find_hands"].detect(depth, seq.camera, 2)])
        if len(centres) < 2:
            continue
        for n, d in dets.items():
            ms[f"{n}_detect"].append(_ms(d.detect, depth, seq.camera, 2))
            ms[f"{n}_refine"].append(_ms(d.refine, depth, seq.camera, centres))
    med = {k: float(np.median(v)) for k, v in ms.items()}
    cpu = platform.processor() or platform.machine()
    doc = {"date": dt.date.today().isoformat(), "command": "OMP_NUM_THREADS=1 python benchmarks/bench_track_detectors.py",
           "cpu": f"{cpu} (Sapphire Rapids Xeon, AVX512_BF16/AMX; shared, 1 thread)",
           "backend": est.backend.describe(), "frames": len(ms["find_hands_detect"]), "median_ms": med,
           "refine_over_detect": {n: med[f"{n}_refine"] / med[f"{n}_detect"] for n in dets},
           "find_hands_over_estimator": {op: med[f"find_hands_{op}"] / med[f"estimator_{op}"]
                                         for op in ("detect", "refine")}}
    lines = [f"# Tracker detectors, cost per frame ({doc['date']})", "",
             f"`{doc['command']}` — {doc['cpu']}; backend {doc['backend']}; crossing seed {args.seed}, "
             f"{doc['frames']} frames with both hands found, two hands per call; medians, interleaved in one run.", "",
             "| detector | detect | refine (2 hands) | refine / detect |", "|---|---:|---:|---:|"]
    for n in dets:
        lines.append(f"| {n} | {med[n + '_detect']:.1f} ms | {med[n + '_refine']:.1f} ms | "
                     f"{doc['refine_over_detect'][n]:.2f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{doc['date']}-track-detectors"
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
