"""`lfsdk-bench`: end-to-end and per-stage runtime of every backend usable here, against the paper.

For each (backend, precision) that runs on the chosen device and each batch size, the harness builds one
HandPoseEstimator, warms it up, and times `iters` calls on raw synthetic depth frames with
`HandPoseEstimator.profile` (CUDA events on the GPU, perf_counter on the CPU): medians and p99 per stage
(preprocess, network and its features / heatmaps / decode+fusion split where the backend can tell,
postprocess) and end to end. Ratios are against torch-eager FP32 on the same device and batch, measured in
the same run, and against the paper's 946 frames/s (1.057 ms per frame on a GTX 1080 Ti).

    lfsdk-bench                       # every backend here, default batches, default model
    lfsdk-bench --quick               # under a minute: batches 1 and 8, 5 iterations, fast precisions only
    lfsdk-bench --device cuda --batches 1,32,512 --backends torch,tensorrt -o benchmarks/results

Writes <out>/<date>-<device>.json, .md and .png (frames/s against batch per backend; per-frame stage split
at the smallest batch beside the paper's).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ._version import __version__
from .backends.base import REGISTRY, BackendUnavailable, backend_class
from .data.synthetic import render_batch
from .estimator import HandPoseEstimator
from .pretrained import default_model_path
from .stages import PAPER_MS

__all__ = ["BenchConfig", "PAPER_FPS", "variants", "run", "write_report", "main"]

PAPER_FPS = 946.0
PAPER_MS_PER_FRAME = 1.057
#: the stages drawn in the split plot, in pipeline order (network sub-stages replace "network" when known)
SPLIT = ("preprocess", "features", "heatmaps", "decode+fusion", "postprocess")
BASELINE = ("torch", "fp32")


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
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.batches or min(self.batches) < 1:
            raise ValueError(f"batches must be positive integers, got {self.batches}")
        if self.iters < 1 or self.warmup < 0:
            raise ValueError(f"iters must be ≥ 1 and warmup ≥ 0, got {self.iters}, {self.warmup}")


def default_batches(device: str) -> tuple[int, ...]:
    return (1, 8, 32, 128, 512) if torch.device(device).type == "cuda" else (1, 8, 32)


def variants(device: str, backends: Sequence[str] | None = None,
             precisions: Sequence[str] | None = None) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(backend, precision) pairs runnable on `device`, the torch FP32 baseline first; and, for every
    backend left out, why."""
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
        for prec in cls.precisions.get(dev.type, ()):
            if precisions is None or prec in precisions:
                runnable.append((name, prec))
        if not any(n == name for n, _ in runnable):
            skipped[name] = f"runs none of {list(precisions or [])} on {dev.type}"
    runnable.sort(key=lambda v: v != BASELINE)
    return runnable, skipped


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512_BF16 or AMX): elsewhere BF16 is emulated and
    slower than FP32 (torch BF16 at batch 8 took 19.5 s a call on an AVX2-only CPU)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_description() -> str:
    """The CPU's model name and whether it computes BF16 natively, for labelling every figure measured on it."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores, {'native' if cpu_has_native_bf16() else 'no native'} BF16"


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


def _frames(model_path: str, cfg: BenchConfig, n: int) -> tuple[np.ndarray, str]:
    """n raw uint16 synthetic depth frames at the model's camera (the estimator's default)."""
    est = HandPoseEstimator(model_path, backend="torch", device="cpu")
    cam = est.camera
    size = cfg.frame_size or (int(round(2 * cam.cy)), int(round(2 * cam.cx)))
    batch = render_batch(n, seed=cfg.seed, camera=cam, layout=est.config.skeleton, size=size)
    return batch.depth, f"{size[1]}x{size[0]} uint16 synthetic, camera {cam}"


def _row(table, backend: str, precision: str, batch: int, backend_options: dict) -> dict:
    stages = {r.stage: {"median_ms": r.median_ms, "p99_ms": r.p99_ms, "mean_ms": r.mean_ms} for r in table.rows}
    total = stages["total"]["median_ms"]
    # means add up where medians need not: the check that the stages account for the end-to-end time
    parts = sum(stages[s]["mean_ms"] for s in ("preprocess", "network", "postprocess") if s in stages)
    return {"backend": backend, "precision": precision, "batch": batch, "options": backend_options,
            "device": table.device, "iters": table.iters, "stages": stages,
            "total_ms": total, "ms_per_frame": total / batch, "fps": 1e3 * batch / total,
            "stage_sum_mean_ms": parts, "total_mean_ms": stages["total"]["mean_ms"]}


def _options(backend: str, precision: str, device: str) -> dict:
    """torch FP32 is the eager baseline (no CUDA graphs); every other torch row replays CUDA graphs."""
    if backend == "torch" and torch.device(device).type == "cuda":
        return {"cuda_graphs": (backend, precision) != BASELINE}
    return {}


def run(cfg: BenchConfig, progress: bool = True) -> dict:
    """Measure every variant × batch; returns the report dict (see write_report for the files)."""
    model = cfg.model
    if model is None:
        model = str(default_model_path())
    runnable, skipped = variants(cfg.device, cfg.backends, cfg.precisions)
    if cfg.quick and cfg.precisions is None:
        runnable, quick = quick_skips(runnable, cfg.device)
        skipped.update(quick)
        for key, why in quick.items():
            print(f"lfsdk-bench: skipping {key}: {why}", file=sys.stderr)
    if not runnable:
        raise RuntimeError(f"no backend runs on {cfg.device} here: {skipped}")
    frames, frames_desc = _frames(model, cfg, max(cfg.batches))
    rows, failures = [], {}
    jobs = [(b, p, n) for b, p in runnable for n in cfg.batches]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="bench", unit="run", file=sys.stderr)
    for backend, precision, n in jobs:
        opts = _options(backend, precision, cfg.device)
        key = f"{backend}/{precision}"
        if bar:
            bar.set_postfix_str(f"{key} batch {n}")
        if key not in failures:
            try:
                est = HandPoseEstimator(model, backend=backend, device=cfg.device, precision=precision, **opts)
                depth = torch.from_numpy(frames[:n].astype(np.int32)).to(torch.uint16)
                if torch.device(cfg.device).type == "cuda":
                    depth = depth.to(cfg.device)
                rows.append(_row(est.profile(depth, iters=cfg.iters, warmup=cfg.warmup), backend, precision,
                                 n, opts))
            except Exception as e:  # noqa: BLE001 — one failing backend must not stop the others; reported
                failures[key] = f"{type(e).__name__}: {e}"
        if bar:
            bar.update()
    if bar:
        bar.close()
    _add_ratios(rows)
    return {
        "schema": "lfsdk-bench/1",
        "lfsdk_version": __version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "config": {**asdict(cfg), "model": model},
        "machine": machine_info(cfg.device),
        "frames": frames_desc,
        "paper": {"fps": PAPER_FPS, "ms_per_frame": PAPER_MS_PER_FRAME, "stages_ms": dict(PAPER_MS),
                  "gpu": "GTX 1080 Ti"},
        "skipped": skipped,
        "failed": failures,
        "rows": rows,
    }


def _add_ratios(rows: list[dict]) -> None:
    base = {r["batch"]: r["fps"] for r in rows if (r["backend"], r["precision"]) == BASELINE}
    for r in rows:
        r["vs_torch_fp32"] = r["fps"] / base[r["batch"]] if r["batch"] in base else None
        r["vs_paper"] = r["fps"] / PAPER_FPS


def machine_info(device: str) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "cpu": cpu_description(),
            "threads": torch.get_num_threads()}
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


# -- output ------------------------------------------------------------------------------------------------
def device_label(report: dict) -> str:
    m = report["machine"]
    name = m.get("gpu") or f"cpu{m['threads']}t"
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").lower()


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# lfsdk-bench {report['date']}", "",
             f"Device: {m.get('gpu', 'CPU ' + m['cpu'])} · torch {m['torch']} · {m['threads']} threads · "
             f"lfsdk {report['lfsdk_version']}", f"Frames: {report['frames']}",
             f"Model: `{report['config']['model']}`", "",
             "| backend | precision | batch | end-to-end ms (median) | p99 ms | ms/frame | frames/s | "
             "vs torch FP32 | vs paper (946 fps) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        ratio = f"{r['vs_torch_fp32']:.2f}×" if r["vs_torch_fp32"] else "–"
        lines.append(f"| {r['backend']} | {r['precision']} | {r['batch']} | {r['total_ms']:.3f} | "
                     f"{r['stages']['total']['p99_ms']:.3f} | {r['ms_per_frame']:.4f} | {r['fps']:,.0f} | "
                     f"{ratio} | {r['vs_paper']:.2f}× |")
    lines += ["", "Per-stage medians, ms per frame (network sub-stages from an instrumented pass where the "
              "backend can split it):", "",
              "| backend | precision | batch | " + " | ".join(SPLIT) + " | network |",
              "|---|---|---:|" + "---:|" * (len(SPLIT) + 1),
              "| paper (GTX 1080 Ti) | fp32 | 1 | – | " + " | ".join(
                  f"{PAPER_MS[s]:.3f}" for s in SPLIT[1:]) + " | 0.333 |"]
    for r in report["rows"]:
        st = r["stages"]
        cell = lambda s: f"{st[s]['median_ms'] / r['batch']:.4f}" if s in st else "–"  # noqa: E731
        lines.append(f"| {r['backend']} | {r['precision']} | {r['batch']} | "
                     + " | ".join(cell(s) for s in SPLIT) + f" | {cell('network')} |")
    for title, d in (("Not run here", report["skipped"]), ("Failed", report["failed"])):
        if d:
            lines += ["", f"{title}:", ""] + [f"- {k}: {v}" for k, v in d.items()]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    series: dict[str, list[tuple[int, float]]] = {}
    for r in report["rows"]:
        series.setdefault(f"{r['backend']} {r['precision']}", []).append((r["batch"], r["fps"]))
    for label, pts in series.items():
        pts.sort()
        ax1.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    ax1.axhline(PAPER_FPS, color="grey", ls="--", label="paper (GTX 1080 Ti)")
    ax1.set(xscale="log", yscale="log", xlabel="batch", ylabel="frames/s (end to end)",
            title=f"throughput — {report['machine'].get('gpu', 'CPU')}")
    ax1.legend(fontsize=7)
    smallest = min(r["batch"] for r in report["rows"])
    bars = [("paper", {s: PAPER_MS.get(s, 0.0) for s in SPLIT})]
    for r in report["rows"]:
        if r["batch"] == smallest:
            st = r["stages"]
            split = {s: st[s]["median_ms"] / r["batch"] for s in SPLIT if s in st}
            if not any(s in st for s in ("features", "heatmaps", "decode+fusion")) and "network" in st:
                split["features"] = st["network"]["median_ms"] / r["batch"]  # unsplit network: one block
            bars.append((f"{r['backend']}\n{r['precision']}", split))
    bottom = np.zeros(len(bars))
    for s in SPLIT:
        vals = np.array([b[1].get(s, 0.0) for b in bars])
        ax2.bar([b[0] for b in bars], vals, bottom=bottom, label=s)
        bottom += vals
    ax2.set(ylabel="ms per frame", title=f"per-stage split, batch {smallest} (paper: batch 1)")
    ax2.tick_params(axis="x", labelsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write <date>-<device>.{json,md,png} into out_dir; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y-%m-%d')}-{device_label(report)}"
    paths = {"json": out / f"{stem}.json", "md": out / f"{stem}.md", "png": out / f"{stem}.png"}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    paths["md"].write_text(markdown(report))
    if report["rows"]:
        plot(report, paths["png"])
    return paths


def _ints(s: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in s.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="checkpoint or .onnx (default: the embedded default model)")
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
                       backends=args.backends, precisions=args.precisions, quick=args.quick)


def run_cli(args: argparse.Namespace) -> int:
    if args.torch_threads < 1:
        raise ValueError(f"--torch-threads must be ≥ 1, got {args.torch_threads}")
    torch.set_num_threads(args.torch_threads)  # the command owns its process
    report = run(config_from_args(args))
    paths = write_report(report, args.out)
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
