"""Synthetic renderer throughput (frames/s) at the ICVL camera, 320×240, one process.

    pytest -q benchmarks/bench_synthetic.py --benchmark-only
frames/s = 1 / the reported mean (one frame per round).
"""
import itertools

import pytest

from lfsdk.data.synthetic import render_hand

_seeds = itertools.count()


@pytest.mark.parametrize("clutter", [False, True], ids=["hand", "hand+clutter"])
def test_render_throughput(benchmark, clutter):
    benchmark.pedantic(lambda: render_hand(next(_seeds), clutter=clutter), rounds=200, warmup_rounds=5)
    benchmark.extra_info["frames_per_s"] = 1.0 / benchmark.stats.stats.mean
