"""lfsdk.data.render_torch against the NumPy renderer (same hands and joints frame for frame, same noise-free
depth) and its sensor model against the laws it documents."""
import numpy as np
import pytest
import torch

from lfsdk.data.dataset import synthetic_frames
from lfsdk.data.render_torch import render_frames_torch, render_tensors, sensor_effects_torch
from lfsdk.data.synthetic import RenderOptions
from lfsdk.geometry import Camera

CAM = Camera(150.0, 150.0, 40.0, 30.0)
SIZE = (60, 80)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
CLEAN = RenderOptions(noise_mm=0.0, noise_quad=0.0, edge_dropout=0.0, random_dropout=0.0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("options", [CLEAN, RenderOptions()], ids=["clean", "noisy"])
def test_same_frames_as_the_numpy_renderer(options, device):
    """Joints bit for bit; the noise-free depth (hand, clutter plane and blobs) to within 1 mm."""
    ref = synthetic_frames(8, 5, CAM, "nyu", SIZE, clutter=0.5, options=options)
    got = render_frames_torch(8, 5, CAM, "nyu", SIZE, options, clutter_p=0.5, device=device, chunk=3)
    assert got["depth"].dtype == np.uint16 and got["depth"].shape == ref["depth"].shape == (8, *SIZE)
    for k in ("joints_xyz", "joints_uvd"):
        assert got[k].dtype == np.float32 and np.array_equal(got[k], ref[k]), k
    a, b = ref["depth"].astype(float), got["depth"].astype(float)
    if options is CLEAN:
        assert (np.abs(a - b) <= 1).mean() >= 0.995 and (a > 0).mean() > 0.3
        assert (a > 1000).any()  # clutter was drawn and composed
    else:  # other noise draws: the same pixels valid up to dropout, depths within the noise
        assert abs((a > 0).mean() - (b > 0).mean()) < 0.02
        both = (a > 0) & (b > 0)
        assert np.median(np.abs(a - b)[both]) < 5


def test_tensors_stay_on_the_device_and_match_the_arrays():
    t = render_tensors(4, 9, CAM, "nyu", SIZE, RenderOptions(), 0.5, "cpu", chunk=3)
    f = render_frames_torch(4, 9, CAM, "nyu", SIZE, RenderOptions(), 0.5, "cpu", chunk=3)
    assert t["depth"].dtype == torch.float32 and t["depth"].device.type == "cpu"
    assert np.array_equal(t["depth"].numpy().astype(np.uint16), f["depth"])  # seeded: the same noise twice
    assert np.array_equal(t["joints_uvd"].numpy(), f["joints_uvd"])
    other = render_frames_torch(4, 10, CAM, "nyu", SIZE, RenderOptions(), 0.5, "cpu", chunk=3)
    assert not np.array_equal(other["depth"], f["depth"])


def test_synthetic_frames_caches_each_renderer_apart(tmp_path):
    a = synthetic_frames(3, 4, CAM, "nyu", SIZE, clutter=0.0, cache_dir=tmp_path)
    b = synthetic_frames(3, 4, CAM, "nyu", SIZE, clutter=0.0, cache_dir=tmp_path, render_device="cpu")
    assert len(list(tmp_path.glob("*.npz"))) == 2 and not np.array_equal(a["depth"], b["depth"])
    again = synthetic_frames(3, 4, CAM, "nyu", SIZE, clutter=0.0, cache_dir=tmp_path, render_device="cpu")
    assert np.array_equal(again["depth"], b["depth"]) and np.array_equal(a["joints_uvd"], b["joints_uvd"])


def _gen(seed=0, device="cpu"):
    return torch.Generator(device=device).manual_seed(seed)


@pytest.mark.parametrize("device", DEVICES)
def test_noise_follows_sigma_of_z(device):
    """Flat planes at 800 and 2500 mm: the residual std is σ(z) = noise_mm + noise_quad·(z/1000)² (within 10 %,
    rounding to mm adds 1/12 mm² of variance)."""
    opts = RenderOptions(noise_mm=1.5, noise_quad=2.0, edge_dropout=0.0, random_dropout=0.0)
    depth = torch.tensor([800.0, 2500.0], device=device)[:, None, None].expand(2, 64, 64).contiguous()
    out = sensor_effects_torch(depth, opts, _gen(0, device)).cpu()
    assert out.dtype == torch.float32 and (out == out.round()).all() and (out > 0).all()
    for z, o in zip((800.0, 2500.0), out):
        sigma = np.sqrt((1.5 + 2.0 * (z / 1000) ** 2) ** 2 + 1 / 12)
        assert abs(float((o - z).std()) / sigma - 1) < 0.1
        assert abs(float((o - z).mean())) < 0.1 * sigma


def test_dropout_on_edges_and_at_random():
    """A step of 200 mm between columns 31 and 32 and a hole: pixels beside a jump (> edge_jump) or a hole are
    dropped with edge_dropout, all others with random_dropout; holes stay 0."""
    opts = RenderOptions(noise_mm=0.0, noise_quad=0.0, edge_dropout=0.5, random_dropout=0.05)
    depth = torch.full((8, 64, 64), 800.0)
    depth[:, :, 32:] = 1000.0
    depth[:, 10, 10] = 0.0
    out = sensor_effects_torch(depth, opts, _gen(3))
    edge = torch.zeros(64, 64, dtype=torch.bool)
    edge[:, 31:33] = True
    edge[9, 10] = edge[11, 10] = edge[10, 9] = edge[10, 11] = True
    dropped = (out == 0)
    assert dropped[:, 10, 10].all()
    hole = torch.zeros(64, 64, dtype=torch.bool)
    hole[10, 10] = True
    edge_rate = float(dropped[:, edge].float().mean())
    other_rate = float(dropped[:, ~edge & ~hole].float().mean())
    assert abs(edge_rate - (1 - 0.5 * 0.95)) < 0.06  # kept only if neither drop happens
    assert abs(other_rate - 0.05) < 0.01
    kept = ~dropped
    assert torch.equal(out[kept], depth[kept])  # no noise: the depth itself


def test_rounding_clipping_and_determinism():
    opts = RenderOptions(noise_mm=0.0, noise_quad=0.0, edge_dropout=0.0, random_dropout=0.0)
    depth = torch.tensor([0.3, 0.0, 70000.0, 812.5, 813.5]).reshape(1, 1, 5).expand(1, 8, 5).contiguous()
    out = sensor_effects_torch(depth, opts, _gen())
    # half to even like np.rint; 0.3 mm is a surface, so it is clipped up to 1, 0 stays missing
    assert out[0, 0].tolist() == [1.0, 0.0, 65535.0, 812.0, 814.0]
    noisy = RenderOptions()
    plane = torch.full((2, 32, 32), 600.0)
    assert torch.equal(sensor_effects_torch(plane, noisy, _gen(7)), sensor_effects_torch(plane, noisy, _gen(7)))
    assert not torch.equal(sensor_effects_torch(plane, noisy, _gen(7)), sensor_effects_torch(plane, noisy, _gen(8)))


@pytest.mark.parametrize("kw, match", [
    ({"device": "tpu"}, "unknown render device"), ({"device": "banana"}, "unknown render device"),
    ({"size": (4, 80)}, "≥ 8"), ({"n": 0}, "n and chunk must be ≥ 1"), ({"dtype": torch.float16}, "dtype"),
])
def test_bad_arguments(kw, match):
    args = {"n": 2, "seed": 0, "camera": CAM, "size": SIZE, "device": "cpu", **kw}
    with pytest.raises(ValueError, match=match):
        render_frames_torch(**args)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is missing")
def test_cuda_without_a_gpu_says_so(tmp_path):
    with pytest.raises(ValueError, match="no CUDA device"):
        synthetic_frames(2, 0, CAM, "nyu", SIZE, cache_dir=tmp_path, render_device="cuda")
