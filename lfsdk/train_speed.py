"""Training throughput on this machine: samples/s of one optimizer step, and the choices made from it.

Whether bf16 autocast pays depends on the CPU: on a core with native bf16 matrix units (AVX512_BF16, AMX)
it is faster than FP32; without them autocast emulates bf16 and is several times slower. Likewise two
threads help only when the machine is quiet. So the trainer measures instead of guessing:

    python -m lfsdk.train_speed --input-size 128 --channels 128 --batch 32 --threads 1

prints one JSON line per (precision, threads) with samples/s.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from lfsdk.cpu import cpu_has_native_bf16
from lfsdk.model import LatentFusion, ModelConfig, latent_fusion_loss

__all__ = ["measure_samples_per_s", "choose_precision", "choose_threads", "main"]


def measure_samples_per_s(config: ModelConfig, batch: int = 32, dtype: torch.dtype | None = None,
                          threads: int | None = None, steps: int = 3, warmup: int = 1,
                          channels_last: bool = True) -> float:
    """Samples/s of full training steps (forward, loss, backward, Adam) on random crops, on the CPU.

    dtype: None for FP32, or torch.bfloat16 for autocast. threads: torch intra-op threads for the
    measurement (restored afterwards). The first `warmup` steps are not timed (allocator, kernel choice).
    """
    if steps < 1 or batch < 1:
        raise ValueError(f"steps and batch must be ≥ 1, got steps={steps}, batch={batch}")
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        model = LatentFusion(config)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        s = config.input_size
        x = (torch.rand(batch, 1, s, s, generator=gen) * 2 - 1)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = torch.rand(batch, config.num_joints, 3, generator=gen) - 0.5
        t0 = 0.0
        for i in range(warmup + steps):
            if i == warmup:
                t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
                out = model(x)
            loss = latent_fusion_loss(out, y).total
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return batch * steps / (time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)


def choose_precision(config: ModelConfig, batch: int, threads: int | None = None, steps: int = 2) -> dict:
    """Measure FP32 and bf16 autocast; returns {'bf16': bool, 'fp32_sps': float, 'bf16_sps': float | None}.
    bf16 is measured only where the CPU has native bf16 (elsewhere it is known to be several times slower)."""
    fp32 = measure_samples_per_s(config, batch, None, threads, steps)
    if not cpu_has_native_bf16():
        return {"bf16": False, "fp32_sps": fp32, "bf16_sps": None}
    bf16 = measure_samples_per_s(config, batch, torch.bfloat16, threads, steps)
    return {"bf16": bf16 > fp32, "fp32_sps": fp32, "bf16_sps": bf16}


def choose_threads(config: ModelConfig, batch: int, dtype: torch.dtype | None, candidates: list[int],
                   steps: int = 2, gain: float = 1.2) -> dict:
    """Measure each thread count in `candidates` (ascending); a larger count is kept only when it is at
    least `gain`× faster per step than the best so far — on a shared machine a marginal gain is not worth
    a core. Returns {'threads': int, 'sps': {threads: samples/s}}."""
    if not candidates or min(candidates) < 1:
        raise ValueError(f"thread candidates must be positive integers, got {candidates}")
    sps = {t: measure_samples_per_s(config, batch, dtype, t, steps) for t in sorted(set(candidates))}
    best = min(sps)
    for t in sorted(sps):
        if sps[t] >= gain * sps[best]:
            best = t
    return {"threads": best, "sps": sps}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lfsdk.train_speed",
                                description="Training samples/s on this CPU, FP32 vs bf16 autocast.")
    p.add_argument("--input-size", type=int, default=128, help="crop side in pixels (default 128)")
    p.add_argument("--channels", type=int, default=128, help="feature channels per block (default 128)")
    p.add_argument("--batch", type=int, default=32, help="samples per step (default 32)")
    p.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts to measure (default 1)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per measurement (default 3)")
    args = p.parse_args(argv)
    cfg = ModelConfig(input_size=args.input_size, channels=args.channels)
    for t in args.threads:
        for name, dt in (("fp32", None), ("bf16", torch.bfloat16)):
            sps = measure_samples_per_s(cfg, args.batch, dt, t, args.steps)
            print(json.dumps({"input_size": args.input_size, "channels": args.channels, "batch": args.batch,
                              "threads": t, "precision": name, "samples_per_s": round(sps, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
