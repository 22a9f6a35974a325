"""GPU benchmark of the lfsdk.kernels ops: Triton kernels against the torch reference, both on CUDA.

    python benchmarks/gpu_kernels.py                     # batch 1, 64, 512 of 640×480 uint16 frames
    python benchmarks/gpu_kernels.py --dry-run           # CPU smoke run (Triton interpreter, tiny frames)

Per op and batch: a parity check of Triton against the reference on the same frames, then `--warmup`
untimed calls and `--iters` timed calls, each between two CUDA events (synchronised before reading), reported
as median and p99 milliseconds and frames/s. "preprocess" is the whole way from raw frames to network input:
hand centre (with the refinement pass unless --no-refine) then crop-resize-normalise to 128×128.
Writes benchmarks/results/<date>-<gpu>-kernels.{json,md} (or <out>/<name>.{json,md}), again after every batch
size, so a run cut short keeps the batches it finished. Target: preprocess at batch 512 on an H100/H200
≥ 50,000 frames/s and ≥ 5× the torch reference.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

TARGET_FPS, TARGET_SPEEDUP, TARGET_BATCH = 50_000, 5.0, 512
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64, 512])
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--size", type=int, default=128, help="crop side in pixels")
    p.add_argument("--mode", choices=("nearest", "bilinear"), default="bilinear")
    p.add_argument("--no-refine", dest="refine", action="store_false", help="hand centre without refinement")
    p.add_argument("--cube", type=float, default=250.0, help="cube side in mm")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the JSON + Markdown (default benchmarks/results; a temp folder with --dry-run)")
    p.add_argument("--name", default=None, help="file name stem (default <date>-<gpu>-kernels)")
    p.add_argument("--dry-run", action="store_true",
                   help="run on the CPU with the Triton interpreter at batch 1 and 2 of 48×64, 2 iterations")
    args = p.parse_args(argv)
    if args.dry_run:
        args.batches, args.height, args.width, args.size = [1, 2], 48, 64, 32
        args.warmup, args.iters = 1, 2
    return args


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))]


def time_calls(fn, warmup: int, iters: int, cuda: bool) -> list[float]:
    """Milliseconds per call: CUDA events around each call on the GPU, perf_counter on the CPU."""
    import torch

    for _ in range(warmup):
        fn()
    if cuda:
        torch.cuda.synchronize()
        pairs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(iters)]
        for start, end in pairs:
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize()
        return [start.elapsed_time(end) for start, end in pairs]
    out = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def make_ops(frames, camera, cube, args):
    """{op: {impl: zero-argument callable}} over one batch of frames, plus the parity report."""
    import torch

    from lfsdk.kernels import backproject, crop_resize_normalize, hand_center

    b = frames.shape[0]
    centers = hand_center(frames, camera, refine=args.refine, cube=cube, impl="torch")
    joints = (torch.rand(b, 21, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(frames.device)

    def center(impl):
        return lambda: hand_center(frames, camera, refine=args.refine, cube=cube, impl=impl)

    def crop(impl):
        return lambda: crop_resize_normalize(frames, centers.uvd, cube, camera, args.size, args.mode, impl=impl)

    def preprocess(impl):
        def run():
            c = hand_center(frames, camera, refine=args.refine, cube=cube, impl=impl)
            return crop_resize_normalize(frames, c.uvd, cube, camera, args.size, args.mode, impl=impl)
        return run

    def post(impl):
        return lambda: backproject(joints, centers.uvd, cube, camera, impl=impl)

    ops = {name: {impl: make(impl) for impl in ("triton", "torch")}
           for name, make in (("hand_center", center), ("crop", crop), ("preprocess", preprocess),
                              ("backproject", post))}
    return ops, parity(ops)


def parity(ops) -> dict:
    """Largest Triton-vs-reference differences on this batch (the unit tests' bounds, measured here)."""
    import torch

    ct, cr = ops["hand_center"]["triton"](), ops["hand_center"]["torch"]()
    kt, kr = ops["crop"]["triton"](), ops["crop"]["torch"]()
    pt, pr = ops["preprocess"]["triton"](), ops["preprocess"]["torch"]()
    (ut, xt), (ur, xr) = ops["backproject"]["triton"](), ops["backproject"]["torch"]()
    crop_diff = (kt - kr).abs()
    return {
        "center_found_equal": bool((ct.found == cr.found).all()),
        "center_uv_px_max": float((ct.uvd[:, :2] - cr.uvd[:, :2]).abs().max()),
        "center_d_mm_max": float((ct.uvd[:, 2] - cr.uvd[:, 2]).abs().max()),
        "center_xyz_mm_max": float((ct.xyz - cr.xyz).abs().max()),
        "crop_norm_max": float(crop_diff.max()),
        "crop_frac_over_1e-5": float((crop_diff > 1e-5).float().mean()),
        "preprocess_norm_max": float((pt - pr).abs().max()),
        "backproject_uvd_max": float(torch.nan_to_num(ut - ur).abs().max()),
        "backproject_xyz_mm_max": float(torch.nan_to_num(xt - xr).abs().max()),
    }


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown"


def _target(rows: list[dict]) -> dict:
    target = next((r for r in rows if r["op"] == "preprocess" and r["batch"] == TARGET_BATCH), None)
    return {"batch": TARGET_BATCH, "fps": TARGET_FPS, "speedup": TARGET_SPEEDUP,
            "measured_fps": target and target["triton"]["fps"],
            "measured_speedup": target and target["speedup"],
            "met": bool(target["triton"]["fps"] >= TARGET_FPS and target["speedup"] >= TARGET_SPEEDUP)
            if target else None}


def _batch_rows(ops: dict, par: dict, b: int, args, cuda: bool) -> list[dict]:
    rows = []
    for op, impls in ops.items():
        row = {"op": op, "batch": b}
        for impl, fn in impls.items():
            ms = time_calls(fn, args.warmup, args.iters, cuda)
            med = statistics.median(ms)
            row[impl] = {"median_ms": med, "p99_ms": percentile(ms, 99), "fps": b / med * 1e3}
        row["speedup"] = row["torch"]["median_ms"] / row["triton"]["median_ms"]
        row["parity"] = par if op == "preprocess" else None
        rows.append(row)
        print(f"{op:12s} B={b:4d}  triton {row['triton']['median_ms']:8.3f} ms "
              f"({row['triton']['fps']:10.0f} fps)  torch {row['torch']['median_ms']:8.3f} ms  "
              f"×{row['speedup']:.1f}", flush=True)
    return rows


def run(args, on_batch=None) -> dict:
    """Every op at every batch size; on_batch(result so far) after each batch size."""
    import torch
    import triton

    import lfsdk
    from lfsdk.geometry import Camera
    from lfsdk.kernels.synthetic import blob_frames

    cuda = not args.dry_run
    if cuda and not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark needs a GPU (use --dry-run for a CPU smoke run)")
    device = torch.device("cuda" if cuda else "cpu")
    gpu = torch.cuda.get_device_name(device) if cuda else f"cpu-interpreter-{platform.machine()}"
    # NYU intrinsics suit 640×480; scale them for other frame sizes so the crops hold the blob
    nyu = Camera.nyu()
    s = args.width / 640
    camera = Camera(nyu.fx * s, nyu.fy * s, args.width / 2, args.height / 2)
    cube = (args.cube,) * 3
    res = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gpu": gpu,
        "device_capability": list(torch.cuda.get_device_capability(device)) if cuda else None,
        "torch": torch.__version__, "triton": triton.__version__, "cuda": torch.version.cuda,
        "lfsdk": lfsdk.__version__, "python": platform.python_version(),
        "config": {"height": args.height, "width": args.width, "dtype": "uint16", "size": args.size,
                   "mode": args.mode, "refine": args.refine, "cube_mm": args.cube, "warmup": args.warmup,
                   "iters": args.iters, "dry_run": args.dry_run, "timer": "cuda events" if cuda else "perf_counter"},
        "target": _target([]),
        "rows": [],
    }
    for b in args.batches:
        frames = blob_frames(b, args.height, args.width, seed=b, device=device)
        ops, par = make_ops(frames, camera, cube, args)
        res["rows"] += _batch_rows(ops, par, b, args, cuda)
        res["target"] = _target(res["rows"])
        if on_batch:
            on_batch(res)
        del frames, ops
        if cuda:
            torch.cuda.empty_cache()
    return res


def markdown(res: dict) -> str:
    c = res["config"]
    lines = [f"# lfsdk.kernels on {res['gpu']} ({res['date']})", "",
             *(["**Dry run** on the CPU through the Triton interpreter: checks that the script works; the "
                "timings say nothing about a GPU.", ""] if c["dry_run"] else []),
             f"{c['height']}×{c['width']} {c['dtype']} frames, crop {c['size']}² {c['mode']}, refine={c['refine']}, "
             f"cube {c['cube_mm']} mm; {c['warmup']} warm-up + {c['iters']} timed calls ({c['timer']}); "
             f"torch {res['torch']}, triton {res['triton']}, CUDA {res['cuda']}.", "",
             "| op | batch | Triton median ms | Triton p99 ms | Triton frames/s | torch median ms | torch frames/s "
             "| speedup |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in res["rows"]:
        t, q = r["triton"], r["torch"]
        lines.append(f"| {r['op']} | {r['batch']} | {t['median_ms']:.4f} | {t['p99_ms']:.4f} | {t['fps']:,.0f} "
                     f"| {q['median_ms']:.4f} | {q['fps']:,.0f} | {r['speedup']:.1f}× |")
    tg = res["target"]
    if tg["met"] is not None:
        lines += ["", f"Target (preprocess at batch {tg['batch']}: ≥ {tg['fps']:,} frames/s and "
                      f"≥ {tg['speedup']}× the reference): {tg['measured_fps']:,.0f} frames/s, "
                      f"{tg['measured_speedup']:.1f}× → **{'met' if tg['met'] else 'NOT met'}**."]
    lines += ["", "Parity (Triton − reference, largest |difference| per batch):", ""]
    for r in res["rows"]:
        if r["parity"]:
            lines.append(f"- batch {r['batch']}: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                                               for k, v in r["parity"].items()))
    return "\n".join(lines) + "\n"


def write(res: dict, out: Path, name: str | None) -> Path:
    """<out>/<name>.json and .md; returns the stem."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / (name or f"{res['date'][:10]}-{slug(res['gpu'])}-kernels")
    stem.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(res))
    return stem


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.dry_run:  # the interpreter must be chosen before triton is first imported
        os.environ.setdefault("TRITON_INTERPRET", "1")
    if args.out is None:  # a dry run's timings mean nothing: keep them out of the committed results
        args.out = Path(tempfile.mkdtemp(prefix="lfsdk-kernels-")) if args.dry_run else RESULTS
    res = run(args, on_batch=lambda r: write(r, args.out, args.name))
    stem = write(res, args.out, args.name)
    print(f"wrote {stem}.json and {stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
