"""Input checks and the choice of implementation, shared by every kernel op."""
import numpy as np
import pytest
import torch

import lfsdk.kernels.center as center_mod
import lfsdk.kernels.crop as crop_mod
from lfsdk.geometry import Camera
from lfsdk.kernels import backproject, crop_resize_normalize, hand_center
from lfsdk.kernels.inputs import as_depth, frame_cameras, frame_cubes, resolve_impl

from .conftest import needs_triton


def test_depth_checks():
    assert as_depth(np.zeros((2, 3, 4), np.uint16)).dtype == torch.uint16
    with pytest.raises(ValueError, match=r"depth must be \(B, H, W\), got shape \(3, 4\) \(for one frame"):
        as_depth(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="depth dtype torch.bool is not supported: expected uint16 or float"):
        as_depth(torch.zeros(1, 3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="depth dtype torch.uint8"):
        as_depth(np.zeros((1, 3, 4), np.uint8))
    with pytest.raises(ValueError, match="at least 1×1"):
        as_depth(torch.zeros(1, 0, 4))
    with pytest.raises(ValueError, match="torch.Tensor or numpy array, got list"):
        as_depth([[[1.0]]])


def test_camera_and_cube_broadcast_per_frame():
    k = frame_cameras(Camera.nyu(), 3, torch.device("cpu"))
    assert k.shape == (3, 4) and k[2].tolist() == pytest.approx([588.03, 587.07, 320.0, 240.0])
    assert frame_cubes(200, 2, torch.device("cpu")).tolist() == [[200.0] * 3] * 2
    per = torch.tensor([[1.0, 2, 3], [4, 5, 6]])
    assert frame_cubes(per, 2, torch.device("cpu")).tolist() == per.tolist()
    with pytest.raises(ValueError, match=r"cube must be \(3,\) or \(B, 3\) = \(2, 3\)"):
        frame_cubes(torch.ones(3, 3), 2, torch.device("cpu"))
    with pytest.raises(ValueError, match="camera must be a Camera"):
        frame_cameras("nyu", 2, torch.device("cpu"))


def test_resolve_impl(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_impl("auto", cpu) == "torch"  # CPU tensors always take the reference
    assert resolve_impl("torch", cpu) == "torch"
    with pytest.raises(ValueError, match="impl must be one of"):
        resolve_impl("cuda", cpu)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(RuntimeError, match="needs TRITON_INTERPRET=1"):
        resolve_impl("triton", cpu)


@needs_triton
def test_forced_triton_never_falls_back_to_the_reference(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("reference called")

    monkeypatch.setattr(center_mod, "hand_center_reference", boom)
    monkeypatch.setattr(crop_mod, "crop_reference", boom)
    d = torch.zeros(2, 8, 8, dtype=torch.uint16)
    d[:, 3, 4] = 500
    c = hand_center(d, Camera(8, 8, 4, 4), impl="triton")
    assert c.found.all()
    crop_resize_normalize(d, c.uvd, 250.0, Camera(8, 8, 4, 4), 8, impl="triton")
    with pytest.raises(AssertionError, match="reference called"):
        hand_center(d, Camera(8, 8, 4, 4), impl="torch")


def test_empty_batch():
    d = torch.zeros(0, 8, 8, dtype=torch.uint16)
    c = hand_center(d, Camera.nyu())
    assert c.uvd.shape == (0, 3) and c.found.shape == (0,)
    assert crop_resize_normalize(d, c.uvd, 250.0, Camera.nyu(), 16).shape == (0, 1, 16, 16)
    assert backproject(torch.zeros(0, 21, 3), c.uvd, 250.0, Camera.nyu())[1].shape == (0, 21, 3)


@pytest.mark.gpu
def test_auto_picks_triton_on_cuda(cuda_or_skip):
    assert resolve_impl("auto", torch.device("cuda")) == "triton"


def test_uint16_to_float_without_a_native_cast():
    # the fallback for devices whose torch has no uint16 → float cast: through an int16 view
    from lfsdk.kernels.inputs import depth_float, uint16_to_float

    vals = np.array([[[0, 1, 500, 32767, 32768, 40000, 65535]]], np.uint16)
    expect = vals.astype(np.float32)
    np.testing.assert_array_equal(uint16_to_float(torch.from_numpy(vals)).numpy(), expect)
    np.testing.assert_array_equal(depth_float(torch.from_numpy(vals)).numpy(), expect)
