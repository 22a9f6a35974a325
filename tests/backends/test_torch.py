"""The torch backend: checkpoints only, CPU FP32/BF16 against the model itself, per-stage hooks; the CUDA
paths (FP16, channels_last, CUDA-graph replay) in tests that run where torch sees a GPU."""
import pytest
import torch

from lfsdk.backends import BackendUnavailable
from lfsdk.backends.torch import TorchBackend
from lfsdk.model import load_model
from tests.api_helpers import one_torch_thread, shared_cache, shared_model  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("shared_cache", "one_torch_thread")

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def crops():
    g = torch.Generator().manual_seed(0)
    return torch.rand(3, 1, 128, 128, generator=g) * 2 - 1


@pytest.fixture(scope="module")
def reference(crops):
    with torch.no_grad():
        return load_model(shared_model()[0])(crops)


def test_cpu_fp32_is_the_model(crops, reference):
    be = TorchBackend.load(shared_model()[0], device="cpu")
    assert (be.precision, be.device.type, be.cuda_graphs) == ("fp32", "cpu", False)
    out = be(crops)
    for got, want in zip(out, reference):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_cpu_bf16_close_to_fp32(crops, reference):
    be = TorchBackend.load(shared_model()[0], device="cpu", precision="bf16")
    out = be(crops)
    assert out.joints.dtype == torch.float32
    # normalised units: 0.01 of a 250 mm cube is 1.25 mm
    assert (out.joints - reference.joints).abs().mean() < 0.01


def test_refuses_onnx_and_unsupported_precision(tmp_path):
    _, onnx_path = shared_model()
    with pytest.raises(BackendUnavailable, match="checkpoint"):
        TorchBackend.load(onnx_path, device="cpu")
    with pytest.raises(BackendUnavailable, match="fp16"):
        TorchBackend.load(shared_model()[0], device="cpu", precision="fp16")


def test_stage_times_split_the_network(crops):
    be = TorchBackend.load(shared_model()[0], device="cpu")
    t = be.stage_times(crops[:1], iters=2)
    assert set(t) == {"features", "heatmaps", "decode+fusion"}
    assert all(len(v) == 2 and all(x > 0 for x in v) for v in t.values())
    assert not be.model.features._forward_hooks  # hooks removed afterwards


@cuda
def test_cuda_fp16_graphs_match_eager_and_fp32(crops, reference):
    ckpt = shared_model()[0]
    be = TorchBackend.load(ckpt, device="cuda")
    assert be.precision == "fp16" and be.cuda_graphs
    x = crops.cuda()
    graphed = be(x)
    assert set(be._graphs) == {3}
    again = be(x[:2])  # a second batch size captures a second graph
    assert set(be._graphs) == {3, 2}
    eager = be._forward(x)
    torch.testing.assert_close(graphed.joints, eager.joints, atol=1e-3, rtol=0)
    torch.testing.assert_close(again.joints, graphed.joints[:2], atol=1e-3, rtol=0)
    assert (graphed.joints.cpu() - reference.joints).abs().mean() < 0.004  # ≈ 0.5 mm in a 250 mm cube
    plain = TorchBackend.load(ckpt, device="cuda", precision="fp32", cuda_graphs=False)
    torch.testing.assert_close(plain(x).joints.cpu(), reference.joints, atol=1e-4, rtol=0)
    assert plain.stage_times(x[:1], iters=2)["features"][0] > 0
