"""The onnxruntime backend: .onnx files and checkpoints (exported once into the cache), INT8, the profiler's
per-stage split, bad files."""

import pytest
import torch

from lfsdk.backends import BackendUnavailable
from lfsdk.backends.onnxruntime import OnnxRuntimeBackend, stage_times_from_trace
from lfsdk.model import load_model
from tests.api_helpers import one_torch_thread, shared_cache, shared_cache_dir, shared_model  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("shared_cache", "one_torch_thread")


@pytest.fixture(scope="module")
def crops():
    g = torch.Generator().manual_seed(1)
    return torch.rand(5, 1, 128, 128, generator=g) * 2 - 1


@pytest.fixture(scope="module")
def reference(crops):
    with torch.no_grad():
        return load_model(shared_model()[0])(crops)


def test_onnx_file_matches_torch(crops, reference):
    be = OnnxRuntimeBackend.load(shared_model()[1], device="cpu")
    assert (be.precision, be.config.num_joints) == ("fp32", 14)
    out = be(crops)
    for got, want in zip(out, reference):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert be(crops[:1]).joints.shape == (1, 14, 3)  # dynamic batch


def test_checkpoint_is_exported_once_into_the_cache(crops, reference):
    # shared_model() exported the checkpoint through this cache; loading the checkpoint must reuse that file
    stamp = shared_model()[1].stat().st_mtime_ns
    be = OnnxRuntimeBackend.load(shared_model()[0], device="cpu")
    assert be.onnx_path == shared_model()[1] and be.onnx_path.stat().st_mtime_ns == stamp
    # (other checkpoints, e.g. the default model in the parity tests, may share this cache folder)
    assert be.onnx_path.parent == shared_cache_dir() / "onnx"
    torch.testing.assert_close(be(crops).joints, reference.joints, atol=1e-4, rtol=1e-4)


def test_int8_from_the_fp32_file(crops, reference):
    be = OnnxRuntimeBackend.load(shared_model()[1], device="cpu", precision="int8")
    assert be.precision == "int8" and be.onnx_path.parent == shared_cache_dir() / "onnx"
    err = (be(crops).joints - reference.joints).abs().mean()
    assert err < 0.008  # ≈ 1 mm in a 250 mm cube
    # an INT8 file cannot be turned back into FP32
    with pytest.raises(BackendUnavailable, match="int8 model"):
        OnnxRuntimeBackend.load(be.onnx_path, device="cpu", precision="fp32")


def test_stage_times_from_the_profiler(crops):
    be = OnnxRuntimeBackend.load(shared_model()[1], device="cpu")
    t = be.stage_times(crops[:1], iters=3)
    assert set(t) == {"features", "heatmaps", "decode+fusion"}
    assert all(len(v) == 3 and all(x > 0 for x in v) for v in t.values())


def test_trace_parsing_by_hand():
    trace = [
        {"cat": "Node", "name": "/features/features.0/Conv_kernel_time", "dur": 100, "args": {}},
        {"cat": "Node", "name": "/branches.1/branches.1.3/Conv_kernel_time", "dur": 250, "args": {}},
        {"cat": "Node", "name": "/branches.1/Relu_fence_before", "dur": 9, "args": {}},
        {"cat": "Node", "name": "x_kernel_time", "dur": 7, "args": {"node_name": "/decode/Softmax"}},
        {"cat": "Session", "name": "model_run", "dur": 400},
        {"cat": "Node", "name": "/features/Conv_kernel_time", "dur": 50, "args": {}},
        {"cat": "Session", "name": "model_run", "dur": 60},
    ]
    runs = stage_times_from_trace(trace)
    assert runs == [{"features": 0.1, "heatmaps": 0.25, "decode+fusion": 0.007}, {"features": 0.05}]


def test_bad_files(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(BackendUnavailable, match="junk.onnx"):
        OnnxRuntimeBackend.load(junk, device="cpu")
    with pytest.raises(BackendUnavailable, match="no such file"):
        OnnxRuntimeBackend.load(tmp_path / "missing.onnx", device="cpu")
    with pytest.raises(BackendUnavailable, match="checkpoint"):
        OnnxRuntimeBackend.load(tmp_path, device="cpu")


def test_providers_and_cuda_availability():
    assert OnnxRuntimeBackend.providers(torch.device("cpu")) == ["CPUExecutionProvider"]
    prov = OnnxRuntimeBackend.providers(torch.device("cuda:1"), trt_provider=True)
    assert [p[0] for p in prov] == ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    assert prov[1][1] == {"device_id": 1}
    import onnxruntime as ort
    ok = OnnxRuntimeBackend.available("cuda")
    assert ok.ok == ("CUDAExecutionProvider" in ort.get_available_providers())
    assert ok.ok or "onnxruntime-gpu" in ok.reason
