"""Triton launches on the current CUDA device, not the tensor's: every kernel wrapper must make its input's
device current around the launch. Checked here by recording the context each wrapper enters (no GPU)."""
import importlib
import types
from contextlib import contextmanager

import pytest
import torch

from lfsdk.kernels import backproject, crop_resize_normalize, hand_center
from lfsdk.kernels.inputs import launch_device

from .conftest import camera_for, needs_triton


def test_launch_device_makes_the_tensors_gpu_current(monkeypatch):
    entered = []
    monkeypatch.setattr(torch.cuda, "device", lambda d: entered.append(d) or "ctx")
    on_gpu1 = types.SimpleNamespace(device=torch.device("cuda", 1))
    assert launch_device(on_gpu1) == "ctx" and entered == [torch.device("cuda", 1)]
    with launch_device(torch.zeros(1)):  # CPU tensors (the interpreter): nothing to make current
        pass
    assert entered == [torch.device("cuda", 1)]


@pytest.fixture
def recorder(monkeypatch):
    """Each wrapper's launch_device replaced by one that records the tensor's device and whether the
    Triton launcher ran inside it."""
    state = {"inside": False, "entered": [], "launched_inside": []}

    @contextmanager
    def record(t):
        state["entered"].append(t.device)
        state["inside"] = True
        yield
        state["inside"] = False

    def wrap(module_name, launcher):
        mod = importlib.import_module(f"lfsdk.kernels.{module_name}_triton")
        real = getattr(mod, launcher)

        def spy(*args, **kwargs):
            state["launched_inside"].append(state["inside"])
            return real(*args, **kwargs)
        monkeypatch.setattr(mod, launcher, spy)

    for name in ("center", "crop", "backproject"):
        monkeypatch.setattr(importlib.import_module(f"lfsdk.kernels.{name}"), "launch_device", record)
    wrap("center", "hand_center_triton")
    wrap("crop", "crop_triton")
    wrap("backproject", "backproject_triton")
    return state


@needs_triton
def test_every_wrapper_launches_inside_its_inputs_device(recorder):
    h, w = 24, 32
    cam = camera_for(h, w)
    depth = torch.zeros(2, h, w, dtype=torch.uint16)
    depth[:, 8:16, 10:20] = 500
    c = hand_center(depth, cam, impl="triton")
    crop_resize_normalize(depth, c.uvd, (250.0,) * 3, cam, size=8, impl="triton")
    backproject(torch.zeros(2, 3, 3), c.uvd, (250.0,) * 3, cam, impl="triton")
    assert recorder["entered"] == [depth.device] * 3
    assert recorder["launched_inside"] == [True, True, True]


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_kernels_on_the_second_gpu_while_the_first_is_current():
    h, w = 48, 64
    cam = camera_for(h, w)
    depth = torch.zeros(2, h, w, dtype=torch.uint16)
    depth[:, 10:30, 20:40] = 600
    want = hand_center(depth, cam, impl="torch")
    with torch.cuda.device(0):
        got = hand_center(depth.to("cuda:1"), cam, impl="triton")
        crops = crop_resize_normalize(depth.to("cuda:1"), got.uvd, (250.0,) * 3, cam, size=16, impl="triton")
    torch.testing.assert_close(got.xyz.cpu(), want.xyz, atol=1e-2, rtol=0)
    ref = crop_resize_normalize(depth, want.uvd, (250.0,) * 3, cam, size=16, impl="torch")
    torch.testing.assert_close(crops.cpu(), ref, atol=1e-5, rtol=0)
