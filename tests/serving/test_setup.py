"""The serving pieces that need neither pytriton nor tritonclient: the libpython and numpy handling, config
checks, request checks, and the batch logic of the inference callable against the real estimator."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint
from lfsdk.serving import BATCH_REJECTED, REQUEST_ID, check_camera, response_outputs
from lfsdk.serving.server import (
    BatchRejected, ServeConfig, ServeUnavailable, ensure_libpython, import_pytriton, make_infer,
)
from tests.serving.helpers import synthetic_frames


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(LatentFusion(ModelConfig(channels=16, fusion_channels=16)), tmp_path_factory.mktemp("ckpt"))


def test_ensure_libpython_puts_this_interpreters_libdir_first(monkeypatch):
    libdir = sysconfig.get_config_var("LIBDIR")
    monkeypatch.setenv("LD_LIBRARY_PATH", f"/opt/other:{libdir}")
    assert ensure_libpython() == libdir
    assert os.environ["LD_LIBRARY_PATH"] == f"{libdir}:/opt/other"
    ensure_libpython()  # idempotent
    assert os.environ["LD_LIBRARY_PATH"] == f"{libdir}:/opt/other"
    monkeypatch.delenv("LD_LIBRARY_PATH")
    ensure_libpython()
    assert os.environ["LD_LIBRARY_PATH"] == libdir


def test_numpy_2_is_named_not_an_abi_traceback(monkeypatch):
    monkeypatch.setattr(np, "__version__", "2.1.3")
    with pytest.raises(ServeUnavailable, match=r"numpy<2.*lfsdk\[serve\]"):
        import_pytriton()


def test_serve_without_the_extra_is_one_line(checkpoint):
    """In an environment without pytriton (or with numpy 2), `lfsdk serve` exits 2 naming what to install."""
    try:
        import_pytriton()
    except ServeUnavailable:
        pass
    else:
        pytest.skip("pytriton is usable here; the server tests cover serving")
    r = subprocess.run([sys.executable, "-m", "lfsdk.serving.cli", "serve", "--model", str(checkpoint)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "lfsdk serve: error:" in r.stderr and "lfsdk[serve]" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("kwargs,message", [
    ({"http_port": 0}, "http_port"), ({"grpc_port": 70000}, "grpc_port"), ({"metrics_port": 8000}, "must differ"),
    ({"max_batch": 0}, "max_batch"), ({"max_batch": 8, "preferred_batch_sizes": (16,)}, "outside"),
    ({"instances": 0}, "instances"),
])
def test_serve_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ServeConfig(**kwargs)


@pytest.mark.parametrize("camera,message", [
    ([[np.nan, 1, 1, 1]], "finite"), ([[500, 500, np.inf, 120]], "finite"), ([[-1, 500, 160, 120]], "positive"),
    ([[500, 500, 160]], r"\(B, 4\)"),
])
def test_check_camera(camera, message):
    with pytest.raises(ValueError, match=message):
        check_camera(np.asarray(camera, dtype=np.float32))


@dataclass
class FakeRequest:
    """What the inference callable reads of pytriton.proxy.types.Request: named arrays and parameters."""
    data: dict
    parameters: dict = field(default_factory=dict)

    def __getitem__(self, name):
        return self.data[name]


def test_infer_batches_requests_and_matches_the_estimator(checkpoint):
    from lfsdk.estimator import HandPoseEstimator

    frames = synthetic_frames(5, seed=1)
    small = synthetic_frames(2, seed=2, size=(120, 160))
    est = HandPoseEstimator(checkpoint, backend="torch")
    cam = np.asarray(frames.camera.tensor(), np.float32)
    other = cam * np.float32([1.1, 1.1, 1, 1])  # a second camera: its frames run in their own call
    reqs = [FakeRequest({"depth": frames.depth[:2], "camera": np.stack([cam, other])}),
            FakeRequest({"depth": small.depth, "camera": np.stack([cam, cam])}),
            FakeRequest({"depth": frames.depth[2:], "camera": np.stack([cam] * 3)})]
    out = make_infer(est)(reqs)
    assert len(out) == 3
    specs = {s.name: s for s in response_outputs(14)}
    for r, o in zip(reqs, out):
        b = len(r["depth"])
        assert set(o) == set(specs)
        for name, v in o.items():
            assert v.shape == (b, *specs[name].dims) and v.dtype == specs[name].dtype, name
    from lfsdk.geometry import Camera

    expect = [est(frames.depth[:1], camera=frames.camera), est(frames.depth[1:2], camera=Camera(*other.tolist())),
              est(small.depth, camera=frames.camera), est(frames.depth[2:], camera=frames.camera)]
    got = [out[0], out[0], out[1], out[2]]
    rows = [slice(0, 1), slice(1, 2), slice(None), slice(None)]
    for e, g, sl in zip(expect, got, rows):
        np.testing.assert_allclose(g["joints_xyz"][sl], e.to_numpy().joints_xyz, atol=1e-4)
        np.testing.assert_array_equal(g["found"][sl, 0], e.to_numpy().found)


def test_a_malformed_request_is_named_and_fails_its_batch(checkpoint):
    from lfsdk.estimator import HandPoseEstimator

    frames = synthetic_frames(2, seed=1)
    cam = np.asarray(frames.camera.tensor(), np.float32)[None]
    good = FakeRequest({"depth": frames.depth[:1], "camera": cam}, {REQUEST_ID: "good-1"})
    bad = FakeRequest({"depth": frames.depth[1:], "camera": np.full_like(cam, np.nan)}, {REQUEST_ID: "bad-2"})
    mismatched = FakeRequest({"depth": frames.depth, "camera": cam}, {REQUEST_ID: "bad-3"})
    infer = make_infer(HandPoseEstimator(checkpoint, backend="torch"))
    with pytest.raises(BatchRejected) as e:
        infer([good, bad, mismatched])
    msg = str(e.value)
    assert msg.startswith(BATCH_REJECTED) and "bad-2: camera intrinsics must be finite" in msg
    assert "bad-3: depth has 2 frames but camera has 1" in msg and "good-1" not in msg
    assert "other requests of this batch were not run" in msg
    assert len(infer([good])) == 1  # and the callable keeps working
