"""CPU backends against onnxruntime FP32, at batch 1 and 32: which CPU path `auto()` should pick.

    pytest -q -s benchmarks/bench_cpu_backends.py --benchmark-only

Every path runs the same model on the same crops (cut from generated hands by the estimator's own
preprocessing). `test_network` gives pytest-benchmark's per-path statistics; `test_ratios` times all paths
interleaved, round by round, so machine load hits them alike (this machine is shared), and reports each
path's speed as a ratio to onnxruntime FP32 together with its added mean joint error in mm (against
onnxruntime FP32, on the same frames). Nothing here asserts a time: the ratios are printed, stored in the
benchmark's extra_info, and written to benchmarks/results/cpu_backends.json.

The model is the embedded default when lfsdk.pretrained is there (errors in mm then mean something), else a
random-weight checkpoint.
"""
from __future__ import annotations

import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lfsdk import HandPoseEstimator
from lfsdk.backends import BackendUnavailable

PATHS = [("onnxruntime", "fp32"), ("openvino", "bf16"), ("openvino", "fp32"), ("onnxruntime", "int8"),
         ("torch", "fp32"), ("torch", "bf16")]
BATCHES = (1, 32)
ROUNDS = {1: 30, 32: 4}
#: torch eager on this 2-core CPU takes seconds per call: fewer rounds (it is the slowest path by far)
SLOW = {"torch"}
SLOW_ROUNDS = {1: 5, 32: 1}
RESULTS = Path(__file__).parent / "results" / "cpu_backends.json"


def _model_path() -> tuple[Path, str]:
    try:
        from lfsdk.pretrained import default_model_path

        if (default_model_path() / "model.safetensors").is_file():
            return Path(default_model_path()), "default model"
    except ImportError:
        pass
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.api_helpers import make_checkpoint

    return make_checkpoint(Path(tempfile.mkdtemp(prefix="lfsdk-bench-")) / "ckpt"), "random weights"


@pytest.fixture(scope="module")
def setup():
    from lfsdk.data.synthetic import render_batch

    path, what = _model_path()
    estimators = {}
    for backend, precision in PATHS:
        if backend == "openvino" and importlib.util.find_spec("openvino") is None:
            continue
        try:
            estimators[(backend, precision)] = HandPoseEstimator(path, backend=backend, device="cpu",
                                                                 precision=precision)
        except BackendUnavailable as e:
            print(f"skip {backend} {precision}: {e}")
    ref = estimators[("onnxruntime", "fp32")]
    frames = render_batch(max(BATCHES), seed=777, camera=ref.camera, layout=ref.config.skeleton).depth
    _, crops, centers, _ = ref._prepare(frames, None, "uvd", None, None)
    return estimators, frames, crops, what


def _name(path) -> str:
    return f"{path[0]}-{path[1]}"


@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: f"b{b}")
@pytest.mark.parametrize("path", PATHS, ids=_name)
def test_network(benchmark, setup, path, batch):
    estimators, _, crops, _ = setup
    if path not in estimators:
        pytest.skip(f"{_name(path)} is not usable here")
    backend = estimators[path].backend
    x = crops[:batch].contiguous()
    benchmark.group = f"network b{batch}"
    rounds = (SLOW_ROUNDS if path[0] in SLOW else ROUNDS)[batch]
    out = benchmark.pedantic(backend, args=(x,), rounds=rounds, warmup_rounds=1)
    assert out.joints.shape == (batch, backend.config.num_joints, 3)


def test_ratios(benchmark, setup):
    """All paths interleaved; speed ratio to onnxruntime FP32 and added error, per batch size."""
    estimators, frames, crops, what = setup
    ref_key = ("onnxruntime", "fp32")
    ref_joints = estimators[ref_key](frames).joints_xyz
    errors = {p: float((e(frames).joints_xyz - ref_joints).norm(dim=-1).mean()) for p, e in estimators.items()}
    report = {"model": what, "torch_threads": torch.get_num_threads(), "paths": {}}
    for batch in BATCHES:
        x = crops[:batch].contiguous()
        times: dict = {p: [] for p in estimators}
        for p, e in estimators.items():  # warm-up
            e.backend(x)
        for k in range(ROUNDS[batch]):
            for p, e in estimators.items():
                if p[0] in SLOW and k >= SLOW_ROUNDS[batch]:
                    continue
                t = time.perf_counter()
                e.backend(x)
                times[p].append(time.perf_counter() - t)
        ref = statistics.median(times[ref_key])
        for p, ts in times.items():
            med = statistics.median(ts)
            report["paths"].setdefault(_name(p), {})[f"b{batch}"] = {
                "median_ms": 1e3 * med, "p99_ms": 1e3 * float(np.percentile(ts, 99)),
                "frames_per_s": batch / med, "speed_vs_ort_fp32": ref / med}
    for p, err in errors.items():
        report["paths"][_name(p)]["added_mean_error_mm"] = err
    fastest = max(report["paths"], key=lambda k: report["paths"][k]["b1"]["speed_vs_ort_fp32"])
    report["fastest_b1"] = fastest
    lines = [f"CPU backends vs onnxruntime FP32 ({what}; ratios > 1 are faster)",
             f"{'path':<20}{'b1 ms':>9}{'b1 ×':>7}{'b32 ms':>10}{'b32 ×':>7}{'+err mm':>9}"]
    for k, v in report["paths"].items():
        lines.append(f"{k:<20}{v['b1']['median_ms']:>9.2f}{v['b1']['speed_vs_ort_fp32']:>7.2f}"
                     f"{v['b32']['median_ms']:>10.1f}{v['b32']['speed_vs_ort_fp32']:>7.2f}"
                     f"{v['added_mean_error_mm']:>9.3f}")
    print("\n" + "\n".join(lines))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    benchmark.extra_info.update(report)
    # the fastest path, timed by pytest-benchmark as well, at batch 1
    fast = estimators[tuple(fastest.split("-"))].backend
    benchmark.group = "fastest b1"
    benchmark.pedantic(fast, args=(crops[:1].contiguous(),), rounds=ROUNDS[1], warmup_rounds=2)
