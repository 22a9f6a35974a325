"""Shared, exported once per session: a realistically scaled model, held-out rendered frames, the torch
reference on them, and the FP32 / FP16 / INT8 / xyz exports.

Why not the default (untrained) weights: with the paper's N(0, 0.001²) init every heatmap is flat, every
frame decodes to the cube centre and any export "matches" torch. So the test model has He-scale convs
(σ = 0.05), BN statistics gathered on rendered crops, random ω and peaky heatmaps (last branch conv
σ = 0.3 → logits of a few units, as after training); `test_parity` checks that its joints really move.
"""
import numpy as np
import pytest
import torch
from torch import nn

from lfsdk.export.onnx import export_onnx
from lfsdk.export.parity import generated_inputs, torch_reference
from lfsdk.export.quantize import quantize_int8
from lfsdk.model import LatentFusion, ModelConfig

PARITY_FRAMES = 256


def realistic_model(calibration_crops: np.ndarray, config: ModelConfig = ModelConfig(), seed: int = 0) -> LatentFusion:
    torch.manual_seed(seed)
    model = LatentFusion(config)
    m = config.num_joints
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.normal_(mod.weight, 0.0, 0.05)
                nn.init.normal_(mod.bias, 0.0, 0.05)
            elif isinstance(mod, nn.BatchNorm2d):
                nn.init.uniform_(mod.weight, 0.5, 1.5)
                nn.init.normal_(mod.bias, 0.0, 0.1)
                mod.momentum = None  # cumulative average over the calibration batches
        for branch in model.branches:
            nn.init.normal_(branch[-1].weight[:m], 0.0, 0.3)  # 2D heatmaps: peaky after the softmax
        model.omega.uniform_(0.8, 1.5)
        model.train().to(memory_format=torch.channels_last)  # same maths, 2× faster on the CPU
        for i in range(0, len(calibration_crops), 32):
            model(torch.from_numpy(calibration_crops[i:i + 32]).contiguous(memory_format=torch.channels_last))
    return model.eval().to(memory_format=torch.contiguous_format)


@pytest.fixture(scope="session")
def calibration():
    return generated_inputs(ModelConfig(), 64, seed=1, xyz=True)


@pytest.fixture(scope="session")
def frames():
    """256 held-out frames (other seed than calibration), with xyz inputs; per-frame cubes differ."""
    inputs = generated_inputs(ModelConfig(), PARITY_FRAMES, seed=2, xyz=True)
    rng = np.random.default_rng(0)
    inputs["cube"] = (inputs["cube"] * rng.uniform(0.8, 1.2, (PARITY_FRAMES, 1))).astype(np.float32)
    return inputs


@pytest.fixture(scope="session")
def model(calibration):
    return realistic_model(calibration["crops"])


@pytest.fixture(scope="session")
def reference(model, frames):
    return torch_reference(model, frames)


@pytest.fixture(scope="session")
def exported(model, calibration, tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    files = {
        "fp32": export_onnx(model, d / "hand.onnx"),
        "fp16": export_onnx(model, d / "hand.fp16.onnx", fp16=True),
        "xyz": export_onnx(model, d / "hand.xyz.onnx", xyz=True),
    }
    files["int8"] = quantize_int8(files["fp32"], d / "hand.int8.onnx", calibration["crops"])
    return files


@pytest.fixture(scope="session")
def parity_report_(model, frames, reference, exported):
    from lfsdk.export.parity import parity_report

    files = {k: exported[k] for k in ("fp32", "fp16", "int8")}
    return parity_report(model, files, frames, reference=reference, engines=False)


@pytest.fixture(scope="session")
def parity(parity_report_):
    """(runner, output) → ParityRow of the session's report."""
    return {(r.runner, r.output): r for r in parity_report_.rows}
