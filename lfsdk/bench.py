"""`lfsdk-bench`: end-to-end and per-stage runtime of every backend usable here, against the paper.

For each variant — (backend, precision) that runs the model on the chosen device, and with --compile torch
through torch.compile — and each batch size, the harness builds one HandPoseEstimator, times its first call
(compiles, CUDA-graph captures), measures the distance of its joints to torch FP32's on the same frames
(parity, mm), then times `iters` calls on raw synthetic depth frames with `HandPoseEstimator.profile`
(CUDA events on the GPU, perf_counter on the CPU): medians and p99 per stage (preprocess, network and its
features / heatmaps / decode+fusion split where the backend can tell, postprocess) and end to end. Ratios
are against torch FP32 (eager, TF32 off) on the same device and batch, measured in the same run, and
against the paper's 946 frames/s (1.057 ms per frame on a GTX 1080 Ti).

    lfsdk-bench                       # every backend here, default batches, default model
    lfsdk-bench --quick               # under a minute: batches 1 and 8, 5 iterations, fast precisions only
    lfsdk-bench --device cuda --batches 1,32,512 --backends torch,tensorrt --compile -o benchmarks/results
    lfsdk-bench --device cuda --frame-size 640x480 --name bench -o $OUT   # $OUT/bench.{json,md,png}

Writes <out>/<date>-<device>.json, .md (after every row, so a run cut short keeps what it measured) and .png
(frames/s against batch per variant; per-frame stage split at the smallest batch beside the paper's).
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ._version import __version__
from .backends.base import REGISTRY, BackendUnavailable, backend_class
from .bench_report import PAPER_FPS, PAPER_MS_PER_FRAME, SPLIT, device_label, markdown, plot, write_report
from .cpu import cpu_description, cpu_has_native_bf16
from .data.synthetic import render_batch
from .estimator import HandPoseEstimator
from .pretrained import PRETRAINED, model_path
from .stages import PAPER_MS

__all__ = ["BenchConfig", "PAPER_FPS", "PAPER_MS_PER_FRAME", "SPLIT", "BASELINE", "Variant", "variants",
           "variant_jobs", "parity_mm", "run", "markdown", "plot", "write_report", "device_label", "main"]

BASELINE = ("torch", "fp32")
#: distinct frames rendered (the rest repeat them): rendering costs ~50 ms per 640×480 frame on one core
UNIQUE_FRAMES = 32


@dataclass(frozen=True)
class BenchConfig:
    model: str | None = None  # checkpoint dir/.safetensors/.onnx; None = the embedded default
    device: str = "cpu"
    batches: tuple[int, ...] = (1, 8, 32)
    iters: int = 50
    warmup: int = 5
    backends: tuple[str, ...] | None = None  # None: every registered backend that runs here
    precisions: tuple[str, ...] | None = None  # None: every precision each backend runs on the device
    frame_size: tuple[int, int] | None = None  # (H, W); None: the camera's native image size
    seed: int = 0
    quick: bool = False
    compile: bool = False  # also time torch through torch.compile (FP16 + CUDA graphs on CUDA)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.batches or min(self.batches) < 1:
            raise ValueError(f"batches must be positive integers, got {self.batches}")
        if self.iters < 1 or self.warmup < 0:
            raise ValueError(f"iters must be ≥ 1 and warmup ≥ 0, got {self.iters}, {self.warmup}")


def default_batches(device: str) -> tuple[int, ...]:
    return (1, 8, 32, 128, 512) if torch.device(device).type == "cuda" else (1, 8, 32)


def variants(device: str, backends: Sequence[str] | None = None, precisions: Sequence[str] | None = None,
             model: str | None = None) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(backend, precision) pairs runnable on `device` (for model file `model` when given: an .onnx runs
    only the precision it holds), the torch FP32 baseline first; and, for every backend left out, why."""
    from pathlib import Path

    dev = torch.device(device)
    runnable, skipped = [], {}
    for name in backends or list(REGISTRY):
        try:
            cls = backend_class(name)
        except (BackendUnavailable, ValueError) as e:
            skipped[name] = str(e)
            continue
        ok = cls.available(dev)
        if not ok:
            skipped[name] = ok.reason
            continue
        runs = cls.precisions_for(Path(model), dev) if model is not None else cls.precisions.get(dev.type, ())
        for prec in runs:
            if precisions is None or prec in precisions:
                runnable.append((name, prec))
        if not any(n == name for n, _ in runnable):
            what = f"{model} at {list(runs)}" if model is not None else list(runs)
            skipped[name] = f"runs {what} on {dev.type}, none of {list(precisions or runs)}"
    runnable.sort(key=lambda v: v != BASELINE)
    return runnable, skipped


def quick_skips(runnable: list[tuple[str, str]], device: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """--quick keeps what a CPU runs fast: (kept variants, {"backend/precision": why skipped})."""
    if torch.device(device).type != "cpu":
        return runnable, {}
    why = {"fp16": "--quick: FP16 has no fast CPU kernels (emulated)",
           "int8": "--quick: INT8 quantises the model first (about a minute, once); run without --quick"}
    if not cpu_has_native_bf16():
        why["bf16"] = "--quick: this CPU has no AVX512_BF16/AMX, BF16 would be emulated"
    kept = [(b, p) for b, p in runnable if p not in why]
    return kept, {f"{b}/{p}": why[p] for b, p in runnable if p in why}


@dataclass(frozen=True)
class Variant:
    """One measured configuration: a backend at a precision with its load options."""

    backend: str
    precision: str
    options: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.backend} {self.precision}" + (" compile" if self.options.get("compile") else "")


def variant_jobs(runnable: list[tuple[str, str]], device: str, compile: bool = False) -> list[Variant]:
    """The variants to time: on CUDA the torch FP32 baseline runs eager (no CUDA graphs), every other torch
    variant replays CUDA graphs; with `compile`, torch through torch.compile at FP16 on CUDA (FP32 on the
    CPU) comes last."""
    cuda = torch.device(device).type == "cuda"
    jobs = [Variant(b, p, {"cuda_graphs": (b, p) != BASELINE} if b == "torch" and cuda else {})
            for b, p in runnable]
    torch_precs = [p for b, p in runnable if b == "torch"]
    if compile and torch_precs:
        prec = "fp16" if "fp16" in torch_precs else ("fp32" if "fp32" in torch_precs else torch_precs[0])
        jobs.append(Variant("torch", prec, {"compile": True, **({"cuda_graphs": True} if cuda else {})}))
    return jobs


def _frames(model_path: str, cfg: BenchConfig, n: int) -> tuple[np.ndarray, str]:
    """n raw uint16 synthetic depth frames at the model's camera (the estimator's default): UNIQUE_FRAMES
    rendered, repeated up to n."""
    est = HandPoseEstimator(model_path, backend="torch", device="cpu")
    cam = est.camera
    size = cfg.frame_size or (int(round(2 * cam.cy)), int(round(2 * cam.cx)))
    unique = min(n, UNIQUE_FRAMES)
    depth = render_batch(unique, seed=cfg.seed, camera=cam, layout=est.config.skeleton, size=size).depth
    desc = f"{size[1]}x{size[0]} uint16 synthetic ({unique} distinct, repeated), camera {cam}"
    return np.resize(depth, (n, *depth.shape[1:])), desc


def _depth(frames: np.ndarray, device: str) -> torch.Tensor:
    """Frames as the sensor gives them: uint16, on the GPU when the run is (the estimator preprocesses there)."""
    depth = torch.from_numpy(frames.astype(np.int32)).to(torch.uint16)
    return depth.to(device) if torch.device(device).type == "cuda" else depth


def parity_mm(xyz: np.ndarray, reference: np.ndarray) -> dict | None:
    """(B, M, 3) joints against the reference's (mm): mean and max joint distance over the frames where both
    found a hand; None when no frame has a hand in both."""
    d = np.linalg.norm(np.asarray(xyz, np.float64) - np.asarray(reference, np.float64), axis=-1)  # (B, M)
    ok = np.isfinite(d).all(axis=1)
    if not ok.any():
        return None
    return {"mean": float(d[ok].mean()), "max": float(d[ok].max()), "frames": int(ok.sum())}


def _reference(model: str, cfg: BenchConfig):
    """(torch FP32 estimator, what it is) for the parity column, or (None, why not) when torch cannot run the
    model. It runs each batch as the row does: an untrained net can amplify FP32 rounding that depends on the
    batch size."""
    try:
        est = HandPoseEstimator(model, backend="torch", device=cfg.device, precision="fp32", cuda_graphs=False)
        return est, "torch fp32 (eager, TF32 off) on the same frames and batch"
    except Exception as e:  # noqa: BLE001 — parity is a column of the report, never a reason to stop it
        return None, f"no torch fp32 reference ({type(e).__name__}: {e})"


def _xyz(est, depth: torch.Tensor) -> np.ndarray:
    return est(depth).joints_xyz.float().cpu().numpy()  # .cpu() waits for the GPU


def _measure(est, v: Variant, n: int, frames: np.ndarray, ref, cfg: BenchConfig) -> dict:
    """One row: time the estimator's first call at batch n (a new shape: compiles, CUDA-graph captures) and
    check parity on it, then profile."""
    depth = _depth(frames[:n], cfg.device)
    t0 = time.perf_counter()
    xyz = _xyz(est, depth)
    first = time.perf_counter() - t0
    table = est.profile(depth, iters=cfg.iters, warmup=cfg.warmup)
    stages = {r.stage: {"median_ms": r.median_ms, "p99_ms": r.p99_ms, "mean_ms": r.mean_ms} for r in table.rows}
    total = stages["total"]["median_ms"]
    # means add up where medians need not: the check that the stages account for the end-to-end time
    parts = sum(stages[s]["mean_ms"] for s in ("preprocess", "network", "postprocess") if s in stages)
    return {"variant": v.label, "backend": v.backend, "precision": v.precision, "batch": n, "options": v.options,
            "device": table.device, "iters": table.iters, "stages": stages,
            "total_ms": total, "ms_per_frame": total / n, "fps": 1e3 * n / total,
            "stage_sum_mean_ms": parts, "total_mean_ms": stages["total"]["mean_ms"], "first_call_s": first,
            "parity_mm": parity_mm(xyz, _xyz(ref, depth)) if ref is not None else None}


def _rows(model: str, v: Variant, frames: np.ndarray, ref, cfg: BenchConfig, report: dict,
          on_row: Callable[[dict], None] | None) -> None:
    """Every batch of one variant on one estimator (one load; torch.compile reuses its compiled code)."""
    try:
        t0 = time.perf_counter()
        est = HandPoseEstimator(model, backend=v.backend, device=cfg.device, precision=v.precision, **v.options)
        load_s = time.perf_counter() - t0
        for n in cfg.batches:
            report["rows"].append({**_measure(est, v, n, frames, ref, cfg), "load_s": load_s})
            _add_ratios(report["rows"])
            if on_row:
                on_row(report)
    except Exception as e:  # noqa: BLE001 — one failing variant must not stop the others; reported
        done = [r["batch"] for r in report["rows"] if r["variant"] == v.label]
        report["failed"][v.label] = f"{type(e).__name__}: {e}" + (f" (after batches {done})" if done else "")
        if on_row:
            on_row(report)


def _header(cfg: BenchConfig, model: str, frames: str, skipped: dict, parity: str) -> dict:
    return {"schema": "lfsdk-bench/2", "lfsdk_version": __version__,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "config": {**asdict(cfg), "model": model},
            "machine": machine_info(cfg.device), "frames": frames, "parity_reference": parity,
            "paper": {"fps": PAPER_FPS, "ms_per_frame": PAPER_MS_PER_FRAME, "stages_ms": dict(PAPER_MS),
                      "gpu": "GTX 1080 Ti"},
            "skipped": skipped, "failed": {}, "rows": []}


def run(cfg: BenchConfig, progress: bool = True, on_row: Callable[[dict], None] | None = None) -> dict:
    """Measure every variant × batch; returns the report dict (see write_report for the files). on_row gets
    the report so far after every row (measured or failed)."""
    model = cfg.model
    if model is None or model in PRETRAINED:
        model = str(model_path(model or "default"))
    runnable, skipped = variants(cfg.device, cfg.backends, cfg.precisions, model=model)
    if cfg.quick and cfg.precisions is None:
        runnable, quick = quick_skips(runnable, cfg.device)
        skipped.update(quick)
        for key, why in quick.items():
            print(f"lfsdk-bench: skipping {key}: {why}", file=sys.stderr)
    if not runnable:
        raise RuntimeError(f"no backend runs {model} on {cfg.device} here: {skipped}")
    frames, frames_desc = _frames(model, cfg, max(cfg.batches))
    ref, parity = _reference(model, cfg)
    report = _header(cfg, model, frames_desc, skipped, parity)
    jobs = variant_jobs(runnable, cfg.device, cfg.compile)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(jobs, desc="bench", unit="variant", file=sys.stderr)
    for v in (bar if bar is not None else jobs):
        if bar:
            bar.set_postfix_str(v.label)
        _rows(model, v, frames, ref, cfg, report, on_row)
        if torch.device(cfg.device).type == "cuda":
            torch.cuda.empty_cache()  # the variant's graphs and buffers are gone with its estimator
    return report


def _add_ratios(rows: list[dict]) -> None:
    base = {r["batch"]: r["fps"] for r in rows if r["variant"] == " ".join(BASELINE)}
    for r in rows:
        r["vs_torch_fp32"] = r["fps"] / base[r["batch"]] if r["batch"] in base else None
        r["vs_paper"] = r["fps"] / PAPER_FPS


def machine_info(device: str) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "cpu": cpu_description(), "threads": torch.get_num_threads()}
    dev = torch.device(device)
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
        info["capability"] = ".".join(map(str, torch.cuda.get_device_capability(dev)))
    try:
        import onnxruntime
        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info


def _ints(s: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in s.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from None


def _frame_size(s: str) -> tuple[int, int]:
    """'640x480' (width × height, as cameras are named) → (H, W)."""
    try:
        w, h = (int(x) for x in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, e.g. 640x480, got {s!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"frames must be at least 16x16 pixels, got {s!r}")
    return h, w


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="a shipped model (default, lite), a checkpoint or an .onnx (default: default)")
    p.add_argument("--device", default=None, help="cpu or cuda[:N] (default: cuda when available)")
    p.add_argument("--batches", type=_ints, help="comma-separated batch sizes (default 1,8,32,128,512 on "
                   "GPU; 1,8,32 on CPU)")
    p.add_argument("--iters", type=int, help="timed iterations per run (default 50; --quick 5)")
    p.add_argument("--warmup", type=int, default=None, help="untimed calls first (default 5; --quick 2)")
    p.add_argument("--backends", type=lambda s: tuple(s.split(",")), help="e.g. torch,onnxruntime")
    p.add_argument("--precisions", type=lambda s: tuple(s.split(",")), help="e.g. fp32,fp16")
    p.add_argument("--quick", action="store_true",
                   help="a short run: batches 1 and 8, 5 iterations, 2 warm-up calls, only the precisions this "
                        "CPU runs fast (the skipped ones are listed)")
    p.add_argument("--compile", action="store_true",
                   help="also time torch through torch.compile (inductor; FP16 + CUDA graphs on CUDA)")
    p.add_argument("--frame-size", type=_frame_size, metavar="WxH",
                   help="raw frame size, e.g. 640x480 (default: the model camera's image size)")
    p.add_argument("--name", help="file name stem of the report (default <date>-<device>)")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads (default 1, as the lfsdk commands: on a loaded 2-core machine 2 "
                        "threads made one frame's CPU preprocessing ~200× slower)")
    p.add_argument("-o", "--out", default="benchmarks/results", help="output folder")


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    batches = args.batches or ((1, 8) if args.quick else default_batches(device))
    iters = args.iters or (5 if args.quick else 50)
    warmup = args.warmup if args.warmup is not None else (2 if args.quick else 5)
    return BenchConfig(model=args.model, device=device, batches=batches, iters=iters, warmup=warmup,
                       backends=args.backends, precisions=args.precisions, quick=args.quick,
                       compile=args.compile, frame_size=args.frame_size)


def run_cli(args: argparse.Namespace) -> int:
    if args.torch_threads < 1:
        raise ValueError(f"--torch-threads must be ≥ 1, got {args.torch_threads}")
    torch.set_num_threads(args.torch_threads)  # the command owns its process
    cfg = config_from_args(args)
    # one stem for the whole run: the JSON and Markdown are rewritten after every row, the plot at the end
    stem = args.name or f"{time.strftime('%Y-%m-%d')}-{device_label({'machine': machine_info(cfg.device)})}"
    report = run(cfg, on_row=lambda r: write_report(r, args.out, name=stem, with_plot=False))
    paths = write_report(report, args.out, name=stem)
    print(markdown(report))
    print("wrote " + ", ".join(str(p) for p in paths.values() if p.exists()))
    return 0 if report["rows"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lfsdk-bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_cli(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"lfsdk-bench: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
