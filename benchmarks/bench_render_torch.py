"""Synthetic frames/s: the torch renderer (lfsdk.data.render_torch) on a device against the NumPy renderer
(synthetic_frames' path, one process), the same frames (seed, clutter fraction, ICVL camera), one run:

    OMP_NUM_THREADS=1 python benchmarks/bench_render_torch.py --frames 64 --device cpu --threads 1

Prints one JSON line: frames/s of each and their ratio. The torch renderer is timed after one warm-up chunk
(allocator, CUDA context); on CUDA the clock stops after a synchronize.
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from lfsdk.data.dataset import _render_range
from lfsdk.data.render_torch import render_tensors
from lfsdk.data.synthetic import RenderOptions
from lfsdk.geometry import Camera


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--clutter", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    cam, size, opts = Camera.icvl(), tuple(a.size), RenderOptions()
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)
    render_tensors(min(a.frames, 8), a.seed + 1, cam, "nyu", size, opts, a.clutter, a.device)  # warm-up
    sync()
    t_torch = _timed(lambda: (render_tensors(a.frames, a.seed, cam, "nyu", size, opts, a.clutter, a.device), sync()))
    t_numpy = _timed(lambda: _render_range((0, a.frames, a.seed, cam, "nyu", size, opts, a.clutter)))
    res = {"frames": a.frames, "size": list(size), "device": a.device, "threads": a.threads,
           "cpu": platform.processor() or platform.machine(),
           "numpy_frames_per_s": round(a.frames / t_numpy, 1), "torch_frames_per_s": round(a.frames / t_torch, 1),
           "torch_over_numpy": round(t_numpy / t_torch, 2)}
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
