"""The torch backend's numerics and modes: FP32 without TF32, torch.compile as an option, CUDA graphs made
on the model's GPU. Checked on the CPU by recording what the backend asks torch for; the real compile and
graphs run in the tests marked for a GPU."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch

from lfsdk.backends import Outputs
from lfsdk.backends.base import BadOption
from lfsdk.backends.torch import TorchBackend
from lfsdk.backends.torch_modes import COMPILE_MODES, compile_mode, strict_fp32
from lfsdk.model import LatentFusion, ModelConfig, save_checkpoint

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(LatentFusion(ModelConfig(num_joints=14, channels=16, fusion_channels=16)),
                           tmp_path_factory.mktemp("ckpt"))


@pytest.fixture
def crops():
    return torch.rand(2, 1, 128, 128, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.fixture
def tf32_on():
    """TF32 allowed, as on an Ampere+ GPU by default for convolutions; the flags restored after the test."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _flags():
    return torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32


def test_strict_fp32_turns_tf32_off_and_restores_it(tf32_on):
    with strict_fp32():
        assert _flags() == (False, False)
    assert _flags() == (True, True)
    with pytest.raises(KeyError), strict_fp32():
        raise KeyError("restored on errors too")
    assert _flags() == (True, True)


@pytest.mark.parametrize("precision,during", [("fp32", (False, False)), ("bf16", (True, True))])
def test_fp32_runs_without_tf32(ckpt, crops, tf32_on, precision, during):
    be = TorchBackend.load(ckpt, device="cpu", precision=precision)
    seen = []
    be.model.features.register_forward_hook(lambda m, a, o: seen.append(_flags()))
    be(crops)
    assert seen == [during] and _flags() == (True, True)


def test_compile_option(ckpt, crops, monkeypatch):
    calls, asked = [], []

    def fake_compile(model, **kw):
        asked.append(kw)
        return lambda x: calls.append(x.shape[0]) or model(x)

    monkeypatch.setattr(torch, "compile", fake_compile)
    be = TorchBackend.load(ckpt, device="cpu", compile=True)
    assert asked == [{"mode": "default", "dynamic": None, "backend": "inductor"}]
    assert be.compile_mode == "default" and "torch.compile default" in be.describe()
    eager = TorchBackend.load(ckpt, device="cpu")
    torch.testing.assert_close(be(crops).joints, eager(crops).joints)
    assert calls == [2]  # inference goes through the compiled network
    be.stage_times(crops, iters=2)
    assert calls == [2]  # per-stage hooks time the eager network
    TorchBackend.load(ckpt, device="cpu", compile="max-autotune-no-cudagraphs")
    assert asked[-1]["mode"] == "max-autotune-no-cudagraphs"
    assert eager.net is eager.model and eager.compile_mode is None  # no compile unless asked


@pytest.mark.parametrize("option", ["reduce-overhead", "max-autotune", "fast", 1])
def test_compile_modes_with_graphs_of_their_own_are_refused(option):
    with pytest.raises(BadOption, match="compile must be"):
        compile_mode(option)
    assert compile_mode(False) is None and compile_mode(True) == "default" == COMPILE_MODES[0]


def test_cuda_graphs_are_made_on_the_models_device(ckpt, crops, monkeypatch):
    """torch.cuda.graph, its side stream and memory pool belong to the current device: _infer makes the
    model's device current first (a model on cuda:1 with cuda:0 current would capture on the wrong GPU)."""
    be = TorchBackend.load(ckpt, device="cpu")
    be.device, be.cuda_graphs = torch.device("cuda", 1), True  # what a model on cuda:1 holds
    entered, current = [], []

    @contextmanager
    def device(d):
        entered.append(torch.device(d))
        current.append(d)
        yield
        current.pop()

    class Graph:
        def replay(self):
            assert current == [torch.device("cuda", 1)]

    out = Outputs(torch.zeros(2, 14, 3), torch.zeros(2, 3, 14, 3), torch.zeros(2, 3))
    monkeypatch.setattr(torch.cuda, "device", device)
    monkeypatch.setattr(be, "_graph", lambda b: (Graph(), torch.zeros(b, 1, 128, 128), out))
    be._infer(crops)
    assert entered == [torch.device("cuda", 1)]


@cuda
@pytest.mark.gpu
@pytest.mark.slow
def test_compiled_fp16_matches_eager_fp16_on_cuda(ckpt, crops):
    """The real inductor compile with the backend's CUDA graphs (tens of seconds: GPU machines only)."""
    x = crops.cuda()
    compiled = TorchBackend.load(ckpt, device="cuda", compile=True)
    eager = TorchBackend.load(ckpt, device="cuda")
    got, want = compiled(x), eager(x)
    assert set(compiled._graphs) == {2}
    torch.testing.assert_close(got.joints, want.joints, atol=2e-3, rtol=0)
    torch.testing.assert_close(compiled(x[:1]).joints, want.joints[:1], atol=2e-3, rtol=0)  # a second shape


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_graphs_on_the_second_gpu_while_the_first_is_current(ckpt, crops):
    be = TorchBackend.load(ckpt, device="cuda:1")
    with torch.cuda.device(0):
        out = be(crops.to("cuda:1"))
    assert out.joints.device == torch.device("cuda", 1)
    torch.testing.assert_close(out.joints, be._forward(crops.to("cuda:1")).joints, atol=1e-3, rtol=0)
