"""pytest-benchmark of the kernels' CPU path (the torch references behind the public dispatch functions) at
batch 1 and 32 of 640×480 uint16 frames. The GPU comparison with the Triton kernels is gpu_kernels.py.

    pytest -q benchmarks/bench_kernels.py --benchmark-only
"""
import pytest
import torch

from lfsdk.geometry import Camera
from lfsdk.kernels import backproject, crop_resize_normalize, hand_center
from lfsdk.kernels.synthetic import blob_frames

CUBE = (250.0, 250.0, 250.0)
CAMERA = Camera.nyu()


@pytest.fixture(scope="module", params=[1, 32], ids=lambda b: f"b{b}")
def batch(request):
    frames = blob_frames(request.param, 480, 640, seed=request.param)
    return frames, hand_center(frames, CAMERA, refine=True)


def test_hand_center(benchmark, batch):
    frames, _ = batch
    out = benchmark(hand_center, frames, CAMERA, refine=True)
    assert out.found.all()


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_crop(benchmark, batch, mode):
    frames, centers = batch
    out = benchmark(crop_resize_normalize, frames, centers.uvd, CUBE, CAMERA, 128, mode)
    assert out.shape == (frames.shape[0], 1, 128, 128) and (out < 1).any()


def test_preprocess(benchmark, batch):
    frames, _ = batch

    def run():
        c = hand_center(frames, CAMERA, refine=True)
        return crop_resize_normalize(frames, c.uvd, CUBE, CAMERA, 128, "bilinear")

    assert benchmark(run).shape == (frames.shape[0], 1, 128, 128)


def test_backproject(benchmark, batch):
    frames, centers = batch
    joints = torch.rand(frames.shape[0], 21, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
    uvd, xyz = benchmark(backproject, joints, centers.uvd, CUBE, CAMERA)
    assert torch.isfinite(xyz).all()
