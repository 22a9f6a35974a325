"""The exported graphs on the CPU: onnxruntime FP32 / FP16 / INT8 against torch eager, batch 1 and 32.

    pytest -q -s benchmarks/bench_export.py --benchmark-only

`test_runner` gives pytest-benchmark's statistics per (runner, batch). `test_ratios` times all runners
interleaved, round by round, so the load of this shared machine hits them alike, and prints each runner's
speed as a ratio to onnxruntime FP32 (median of the rounds; > 1 is faster). Nothing asserts a time. The
weights are random at He scale: speed does not depend on their values (no denormals at that scale).
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lfsdk.export.onnx import export_onnx
from lfsdk.export.parity import OnnxRuntimeRunner, TorchRunner, generated_inputs
from lfsdk.export.quantize import quantize_int8
from lfsdk.model import LatentFusion

BATCHES = (1, 32)
ROUNDS = {1: 20, 32: 3}
RUNNERS = ("torch-eager", "onnxruntime-fp32", "onnxruntime-fp16", "onnxruntime-int8")
RESULTS = Path(__file__).parent / "results" / "export.json"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.manual_seed(0)
    model = LatentFusion()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.05)
    model.eval()
    d = tmp_path_factory.mktemp("bench-onnx")
    inputs = generated_inputs(model.config, max(BATCHES), seed=5)
    fp32 = export_onnx(model, d / "hand.onnx")
    runners = {
        "torch-eager": TorchRunner(model),
        "onnxruntime-fp32": OnnxRuntimeRunner(fp32, "fp32"),
        "onnxruntime-fp16": OnnxRuntimeRunner(export_onnx(model, d / "hand.fp16.onnx", fp16=True), "fp16"),
        "onnxruntime-int8": OnnxRuntimeRunner(quantize_int8(fp32, d / "hand.int8.onnx", inputs["crops"]), "int8"),
    }
    return runners, inputs["crops"]


@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: f"b{b}")
@pytest.mark.parametrize("name", RUNNERS)
def test_runner(benchmark, setup, name, batch):
    runners, crops = setup
    x = {"crops": np.ascontiguousarray(crops[:batch])}
    benchmark.group = f"export b{batch}"
    out = benchmark.pedantic(runners[name], args=(x,), rounds=ROUNDS[batch], warmup_rounds=1)
    assert out["joints"].shape == (batch, 14, 3)


def test_ratios(benchmark, setup):
    runners, crops = setup
    report = {"torch_threads": torch.get_num_threads(), "runners": {}}
    for batch in BATCHES:
        x = {"crops": np.ascontiguousarray(crops[:batch])}
        times: dict[str, list[float]] = {k: [] for k in runners}
        for r in runners.values():  # warm-up
            r(x)
        for _ in range(ROUNDS[batch]):
            for k, r in runners.items():
                t = time.perf_counter()
                r(x)
                times[k].append(time.perf_counter() - t)
        ref = statistics.median(times["onnxruntime-fp32"])
        for k, ts in times.items():
            med = statistics.median(ts)
            report["runners"].setdefault(k, {})[f"b{batch}"] = {
                "median_ms": 1e3 * med, "frames_per_s": batch / med, "speed_vs_ort_fp32": ref / med}
    lines = ["exported graphs on the CPU vs onnxruntime FP32 (ratios > 1 are faster)",
             f"{'runner':<20}{'b1 ms':>9}{'b1 ×':>7}{'b32 ms':>10}{'b32 ×':>7}"]
    for k, v in report["runners"].items():
        lines.append(f"{k:<20}{v['b1']['median_ms']:>9.2f}{v['b1']['speed_vs_ort_fp32']:>7.2f}"
                     f"{v['b32']['median_ms']:>10.1f}{v['b32']['speed_vs_ort_fp32']:>7.2f}")
    print("\n" + "\n".join(lines))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    benchmark.extra_info.update(report)
    benchmark.group = "export b1 (fp32)"
    benchmark.pedantic(runners["onnxruntime-fp32"], args=({"crops": crops[:1]},), rounds=ROUNDS[1])
