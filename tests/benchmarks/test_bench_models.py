"""benchmarks/bench_models.py: its error and timing helpers on stand-in estimators, its report table."""
import types

import numpy as np
import torch

from tests.api_helpers import load_benchmark


def load():
    return load_benchmark("bench_models")


class _Fixed:
    """Stands in for an estimator: every frame's joints at `xyz`, NaN for frames whose first pixel is 0."""

    def __init__(self, xyz):
        self.xyz, self.calls = torch.as_tensor(xyz, dtype=torch.float32), []

    def __call__(self, depth):
        depth = torch.as_tensor(np.asarray(depth, np.int32))
        self.calls.append(len(depth))
        out = self.xyz.expand(len(depth), -1, -1).clone()
        out[depth[:, 0, 0] == 0] = float("nan")
        return types.SimpleNamespace(joints_xyz=out)


def test_mean_error_is_the_mean_joint_distance_over_found_frames():
    m = load()
    truth = np.zeros((5, 2, 3), np.float32)
    depth = np.ones((5, 4, 4), np.uint16)
    depth[4, 0, 0] = 0  # frame 4: no hand
    est = _Fixed([[3.0, 4.0, 0.0], [0.0, 0.0, 10.0]])  # 5 mm and 10 mm from the truth
    err, found = m.mean_error(est, depth, truth, batch=2)
    assert np.isclose(err, 7.5) and found == 0.8 and est.calls == [2, 2, 1]


def test_interleaved_timing_calls_every_estimator_every_round():
    m = load()
    ests = {"default": _Fixed(np.zeros((2, 3))), "lite": _Fixed(np.zeros((2, 3)))}
    ms = m.time_interleaved(ests, np.ones((32, 4, 4), np.uint16), batch=8, rounds=3)
    assert set(ms) == {"default", "lite"} and all(v > 0 for v in ms.values())
    assert ests["default"].calls == ests["lite"].calls == [8] * (2 + 3 * 4)  # 2 warm-up calls, 32 frames a round


def test_markdown_quotes_the_speedup_default_over_lite():
    m = load()
    row = {"backend": "openvino", "precision": "fp32", "error_mm": {"default": 15.9, "lite": 16.8},
           "found": {"default": 1.0, "lite": 1.0},
           "ms_per_frame": {"1": {"default": 30.0, "lite": 9.0, "speedup": 30 / 9},
                            "32": {"default": 24.0, "lite": 4.0, "speedup": 6.0}}}
    text = m.markdown({"date": "2026-12-02T04:00:00+00:00", "cpu": "a CPU", "frames": 8, "rounds": 2,
                       "models": {}, "rows": [row]})
    assert "| openvino | fp32 | 15.90 mm | 16.80 mm | 30.00 ms | 9.00 ms | 3.33x | 24.00 ms | 4.00 ms | 6.00x |" in text
