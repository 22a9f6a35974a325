"""The Backend interface: registry, availability, auto order, input checks, batch splitting — and parity:
every backend usable here gives the same joints on the same frames (export parity bounds)."""
import importlib.util

import numpy as np
import pytest
import torch

from lfsdk import HandPoseEstimator
from lfsdk.backends import (AUTO_ORDER, REGISTRY, BackendUnavailable, Outputs, auto,
                            availability, backend_class, create, resolve_device)
from lfsdk.model import ModelConfig
from tests.api_helpers import StubBackend, default_model_missing, make_frames, one_torch_thread, shared_cache, shared_model  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("shared_cache", "one_torch_thread")

#: mean joint distance to torch FP32 in mm, per precision (the export parity bounds, DESIGN.md §4)
TOLERANCE_MM = {"fp32": 0.01, "fp16": 0.5, "bf16": 1.0, "int8": 1.0}
CPU_RUNS = [("torch", "bf16"), ("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32"),
            ("openvino", "bf16")]


class Echo(StubBackend):
    """Joints = each crop's mean, so a split batch can be checked frame by frame."""

    name = "echo"

    def __init__(self, max_batch=None):
        super().__init__(ModelConfig(num_joints=2, input_size=8), torch.device("cpu"), "fp32", max_batch)
        self.seen = []

    def _infer(self, crops):
        self.seen.append(tuple(crops.shape))
        b = crops.shape[0]
        m = crops.mean(dim=(1, 2, 3))
        return Outputs(m[:, None, None].expand(b, 2, 3), m[:, None, None, None].expand(b, 3, 2, 3), torch.ones(b, 3) / 3)


def test_split_over_max_batch_keeps_order():
    be = Echo(max_batch=3)
    crops = torch.arange(7.0)[:, None, None, None].expand(7, 1, 8, 8)
    out = be(crops)
    assert be.seen == [(3, 1, 8, 8), (3, 1, 8, 8), (1, 1, 8, 8)]
    assert out.joints[:, 0, 0].tolist() == list(range(7))
    assert out.branch_joints.shape == (7, 3, 2, 3)


@pytest.mark.parametrize("crops,err", [
    (np.zeros((1, 1, 8, 8), np.float32), TypeError),
    (torch.zeros(1, 8, 8), ValueError),
    (torch.zeros(1, 2, 8, 8), ValueError),
    (torch.zeros(0, 1, 8, 8), ValueError),
    (torch.zeros(1, 1, 8, 8, dtype=torch.int32), ValueError),
])
def test_crops_are_checked_once(crops, err):
    with pytest.raises(err, match="crops"):
        Echo()(crops)


def test_registry_and_availability():
    assert {"torch", "onnxruntime", "openvino", "tensorrt"} <= set(REGISTRY)
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        backend_class("nope")
    av = availability("cpu")
    assert set(av) == set(REGISTRY)
    assert av["torch"].ok and av["onnxruntime"].ok
    for name, a in av.items():
        assert a.ok or a.reason, f"{name} is unusable without saying why"
    if not torch.cuda.is_available():
        cuda = availability("cuda")
        assert not cuda["torch"].ok and "CUDA" in cuda["torch"].reason
        assert not cuda["openvino"].ok


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("mps")


def test_precision_checks():
    from lfsdk.backends.torch import TorchBackend

    assert TorchBackend.resolve_precision(torch.device("cpu"), None) == "fp32"
    with pytest.raises(BackendUnavailable, match="fp16"):
        TorchBackend.resolve_precision(torch.device("cpu"), "fp16")
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        TorchBackend.resolve_precision(torch.device("cpu"), "fp8")


def test_auto_picks_the_first_usable_backend_in_order():
    ckpt, onnx_path = shared_model()
    be = auto(onnx_path, device="cpu")
    usable = [n for n in AUTO_ORDER["cpu"] if availability("cpu")[n].ok and n != "torch"]
    assert be.name == usable[0]  # an .onnx: torch cannot load it, the ONNX backends can
    assert auto(ckpt, device="cpu").name == usable[0]
    # what auto cannot run says why for every backend it tried


def test_create_refuses_what_a_backend_cannot_load(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"no model")
    with pytest.raises(BackendUnavailable, match="no backend can run") as e:
        auto(junk, device="cpu")
    assert all(f"{n}:" in str(e.value) for n in AUTO_ORDER["cpu"])
    _, onnx_path = shared_model()
    with pytest.raises(BackendUnavailable, match="checkpoint"):
        create("torch", onnx_path, device="cpu")


@pytest.fixture(scope="module")
def reference():
    """The shipped sample frames and the default model when they are in the package (else generated frames
    and the test checkpoint), and torch FP32's result on them."""
    try:
        from lfsdk.pretrained import default_model_path, sample_frames

        samples = sample_frames()
        frames, camera = np.stack([f.depth for f in samples]), samples[0].camera
    except ImportError:
        frames, camera = make_frames(4, seed=11), "icvl"
    model = shared_model()[0] if default_model_missing() else default_model_path()
    est = HandPoseEstimator(model, backend="torch", device="cpu", precision="fp32", camera=camera)
    return model, camera, frames, est(frames)


@pytest.mark.parametrize("backend,precision", CPU_RUNS, ids=[f"{b}-{p}" for b, p in CPU_RUNS])
def test_backends_agree_on_the_same_frames(reference, backend, precision):
    if backend == "openvino" and importlib.util.find_spec("openvino") is None:
        pytest.skip("openvino not installed (pip install 'lfsdk[openvino]')")
    model, camera, frames, ref = reference
    # ONNX backends get the checkpoint too: exported once into the (shared) cache
    est = HandPoseEstimator(model, backend=backend, device="cpu", precision=precision, camera=camera)
    assert (est.backend.name, est.backend.precision) == (backend, precision)
    r = est(frames)
    assert r.found.tolist() == ref.found.tolist()
    err = (r.joints_xyz - ref.joints_xyz).norm(dim=-1)
    assert err.mean() <= TOLERANCE_MM[precision], (backend, precision, float(err.mean()))
    torch.testing.assert_close(r.centers_xyz, ref.centers_xyz)  # same preprocessing whatever the backend
    torch.testing.assert_close(r.fusion_weights, ref.fusion_weights, atol=0.02, rtol=0)


def test_auto_moves_on_when_openvino_is_missing(monkeypatch):
    """OpenVINO is an optional extra: without it auto() runs onnxruntime, and info says what to install."""
    import sys

    from lfsdk.backends.openvino import OpenVINOBackend

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    why = OpenVINOBackend.available("cpu")
    assert not why.ok and "pip install openvino" in why.reason
    assert not availability("cpu")["openvino"].ok
    assert auto(shared_model()[1], device="cpu").name == "onnxruntime"
