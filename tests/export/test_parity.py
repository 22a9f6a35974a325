"""Parity report: the FP32 bars on 256 held-out frames, the units, and that the comparison can fail."""
import numpy as np
import pytest

from lfsdk.export import parity as P
from lfsdk.export.parity import BARS, RunnerUnavailable, compare, parity_report


def test_frames_are_held_out_rendered_and_the_model_is_not_trivial(frames, calibration, reference):
    assert len(frames["crops"]) == 256
    assert not np.isin(frames["crops"][:, 0, 64, 64], calibration["crops"][:, 0, 64, 64]).all()
    # joints must move between frames, or any export would "match": spread of the fused joints in mm
    spread_mm = (reference["joints"].std(axis=0) * 125).mean()
    assert spread_mm > 5.0
    assert ((reference["joints"] > -1.5) & (reference["joints"] < 1.5)).all()


def test_fp32_bars(parity_report_, parity):
    row = parity["onnxruntime-fp32", "joints"]
    assert (row.bar_mean, row.bar_max) == BARS["fp32"] == (0.01, 0.1)
    assert row.mean <= 0.01 and row.max <= 0.1
    assert parity["onnxruntime-fp32", "fusion_weights"].max < 1e-5
    assert parity_report_.frames == 256
    assert [(r.runner, r.output) for r in parity_report_.rows if not r.passed] in ([], [("onnxruntime-int8", "joints")])
    text = parity_report_.table()
    assert "onnxruntime-int8" in text and "256 held-out frames" in text


def test_compare_units_hand_computed():
    ref = {"joints": np.zeros((2, 1, 3)), "branch_joints": np.zeros((2, 3, 1, 3)),
           "fusion_weights": np.full((2, 3), 1 / 3)}
    got = {"joints": np.array([[[0.01, 0, 0]], [[0, 0.003, 0.004]]]),
           "branch_joints": np.zeros((2, 3, 1, 3)), "fusion_weights": np.full((2, 3), 1 / 3) + [0.01, 0, -0.01]}
    rows = {r.output: r for r in compare(ref, got, np.array([125.0, 125.0, 250.0]), "x", "fp16")}
    # frame 0: 0.01·125 = 1.25 mm; frame 1: (0.003·125, 0.004·250) = (0.375, 1.0) mm → 1.068 mm
    assert rows["joints"].max == pytest.approx(1.25)
    assert rows["joints"].mean == pytest.approx((1.25 + np.hypot(0.375, 1.0)) / 2)
    assert rows["joints"].unit == "mm" and rows["joints"].bar_mean == 0.5
    assert rows["fusion_weights"].max == pytest.approx(0.01) and rows["fusion_weights"].unit == "raw"
    assert rows["branch_joints"].max == 0 and rows["branch_joints"].bar_mean is None


def test_a_wrong_graph_fails_the_bar(model, frames, reference, exported):
    class Nudged:  # onnxruntime, with ω effectively off by 1 % in one joint's x: must fail FP32
        name, precision = "nudged", "fp32"

        def __init__(self):
            self.inner = P.OnnxRuntimeRunner(exported["fp32"])

        def __call__(self, inputs):
            out = self.inner(inputs)
            out["joints"][:, 0, 0] *= 1.01
            return out

    report = parity_report(model, {"fp32": exported["fp32"]}, {k: v[:64] for k, v in frames.items()
                                                                if k != "source"},
                           factories={"nudged": lambda path, prec: Nudged()},
                           reference={k: v[:64] for k, v in reference.items()})
    rows = {(r.runner, r.output): r for r in report.rows}
    assert rows["onnxruntime-fp32", "joints"].passed
    assert not rows["nudged", "joints"].passed and not report.passed


def test_unavailable_engine_is_skipped_not_passed(model, frames, reference, exported):
    def factory(path, prec):
        raise RunnerUnavailable("no GPU here")

    report = parity_report(model, {"fp32": exported["fp32"]}, {k: v[:8] for k, v in frames.items() if k != "source"},
                           factories={"fake-gpu": factory}, reference={k: v[:8] for k, v in reference.items()})
    assert any("fake-gpu fp32: no GPU here" in s for s in report.skipped)
    assert all(not r.runner.startswith("fake") for r in report.rows)
    assert "skipped: fake-gpu" in report.table()
