"""Scene renderer throughput (frames/s) per scene class at the ICVL camera, 320×240, one process.

    OMP_NUM_THREADS=1 pytest -q benchmarks/bench_scenes.py --benchmark-only
frames/s = 1 / the reported mean (one frame per round).
"""
import itertools

import pytest

from lfsdk.data.scenes import SCENE_CLASSES, render_scene

_seeds = itertools.count()


@pytest.mark.parametrize("scene_class", SCENE_CLASSES)
def test_scene_render_throughput(benchmark, scene_class):
    benchmark.pedantic(lambda: render_scene((7, next(_seeds)), scene_class), rounds=40, warmup_rounds=2)
    benchmark.extra_info["frames_per_s"] = 1.0 / benchmark.stats.stats.mean
